"""URLs of the livy app (namespace ``livy``)."""

from django.urls import path

from livy import views

app_name = "livy"

urlpatterns = [
    path("", views.notebook, name="notebook"),
    path("live/", views.notebook_live, name="notebook_live"),
    path("live/dispatch/", views.notebook_dispatch, name="notebook_dispatch"),
    path("livy-status/", views.livy_status_view, name="livy_status"),
    path("run/", views.run, name="run"),
    path("complete/", views.statement_completion, name="complete"),
    path("sessions/", views.session_list, name="session_list"),
    path("sessions/start/", views.session_start, name="start_session"),
    path("sessions/<int:pk>/", views.session_detail, name="session_detail"),
    path("sessions/<int:pk>/live/", views.live, name="live"),
    path("sessions/<int:pk>/dispatch/", views.session_dispatch, name="dispatch"),
    path("sessions/<int:pk>/log/", views.session_log, name="session_log"),
    path("sessions/<int:pk>/stop/", views.session_stop, name="stop_session"),
    path("sessions/<int:pk>/keepalive/", views.session_keepalive, name="keep_alive"),
    path("sessions/<int:pk>/restart/", views.session_restart, name="restart_session"),
    path("sessions/<int:pk>/export.py", views.session_export, name="export_session"),
    path("statements/<int:pk>/cancel/", views.statement_cancel, name="cancel_statement"),
    path("statements/<int:pk>/rerun/", views.statement_rerun, name="rerun_statement"),
    path("statements/<int:pk>/result.csv", views.statement_csv, name="statement_csv"),
    path("statements/<int:pk>/output/", views.statement_output_download, name="statement_output"),
]
