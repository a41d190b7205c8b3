"""URLs of the livy app (namespace ``livy``)."""

from django.urls import path

from livy import views

app_name = "livy"

urlpatterns = [
    path("", views.notebook, name="notebook"),
    path("run/", views.run, name="run"),
    path("sessions/", views.session_list, name="session_list"),
    path("sessions/start/", views.session_start, name="start_session"),
    path("sessions/<int:pk>/", views.session_detail, name="session_detail"),
    path("sessions/<int:pk>/live/", views.live, name="live"),
    path("sessions/<int:pk>/log/", views.session_log, name="session_log"),
    path("sessions/<int:pk>/stop/", views.session_stop, name="stop_session"),
    path("sessions/<int:pk>/keepalive/", views.session_keepalive, name="keep_alive"),
    path("statements/<int:pk>/cancel/", views.statement_cancel, name="cancel_statement"),
]
