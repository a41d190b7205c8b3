"""URLs of the livy app (namespace ``livy``)."""

from django.urls import path

from livy import notebook_views, views

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
    # Notebooks (livy/notebook_views.py).
    path("notebooks/", notebook_views.notebook_list, name="notebook_list"),
    path("notebooks/new/", notebook_views.notebook_new, name="notebook_new"),
    path("notebooks/import/", notebook_views.notebook_import, name="notebook_import"),
    path("notebooks/<int:pk>/", notebook_views.notebook_detail, name="notebook_detail"),
    path("notebooks/<int:pk>.ipynb", notebook_views.notebook_ipynb, name="notebook_ipynb"),
    path("notebooks/<int:pk>.py", notebook_views.notebook_py, name="notebook_py"),
    path("notebooks/<int:pk>/json/", notebook_views.notebook_json_view, name="notebook_json"),
    path("notebooks/<int:pk>/save/", notebook_views.notebook_save, name="notebook_save"),
    path("notebooks/<int:pk>/rename/", notebook_views.notebook_rename, name="notebook_rename"),
    path("notebooks/<int:pk>/copy/", notebook_views.notebook_copy, name="notebook_copy"),
    path("notebooks/<int:pk>/delete/", notebook_views.notebook_delete, name="notebook_delete"),
    path("notebooks/<int:pk>/share/", notebook_views.notebook_share, name="notebook_share"),
    path("notebooks/<int:pk>/run/", notebook_views.notebook_run, name="notebook_run"),
    path("notebooks/<int:pk>/poll/", notebook_views.notebook_poll, name="notebook_poll"),
    path("notebooks/<int:pk>/cancel/", notebook_views.notebook_cancel, name="notebook_cancel"),
]

# Spark jobs (Livy batches): livy/job_views.py
from livy import job_views  # noqa: E402

urlpatterns += [
    path("jobs/", job_views.job_list, name="job_list"),
    path("jobs/new/", job_views.job_submit, name="job_submit"),
    path("jobs/<int:pk>/", job_views.job_detail, name="job_detail"),
    path("jobs/<int:pk>/poll/", job_views.job_poll, name="job_poll"),
    path("jobs/<int:pk>/log.txt", job_views.job_log_download, name="job_log"),
    path("jobs/<int:pk>/kill/", job_views.job_kill, name="job_kill"),
    path("jobs/<int:pk>/resubmit/", job_views.job_resubmit, name="job_resubmit"),
]
