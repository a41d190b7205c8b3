"""The default roles: Django groups and the permissions each one grants.

Views check permissions, never group names (README, "Roles"), so an administrator
may change what a role can do in the Django admin; ``setup_roles`` only adds what is missing.
"""

ADMINISTRATORS = "Administrators"
EDITORS = "Editors"
VIEWERS = "Viewers"

#: Permission codenames ("app_label.codename") granted to each default group.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    VIEWERS: (
        "livy.view_sparksession",
        "livy.view_statement",
        # Notebooks shared with one of their groups, read-only.
        "livy.view_notebook",
    ),
    EDITORS: (
        "livy.view_sparksession",
        "livy.view_statement",
        "livy.add_sparksession",
        "livy.run_code",
        "livy.view_notebook",
        "livy.add_notebook",
        "livy.change_notebook",
        "livy.delete_notebook",
        "livy.submit_batch",
    ),
    ADMINISTRATORS: (
        "livy.view_sparksession",
        "livy.view_statement",
        "livy.add_sparksession",
        "livy.run_code",
        "livy.submit_batch",
        "livy.view_all_batches",
        "livy.kill_any_batch",
        "livy.view_all_sessions",
        "livy.stop_any_session",
        "livy.view_notebook",
        "livy.add_notebook",
        "livy.change_notebook",
        "livy.delete_notebook",
        "livy.view_all_notebooks",
        "livy.view_cell",  # a notebook's cells, read-only in the Django admin
        "auth.view_user",
        "auth.change_user",
        "auth.view_group",
        "auth.add_group",
        "auth.change_group",
        "auth.view_permission",
        "api.view_apitoken",
        "api.change_apitoken",
    ),
}

#: Members of these groups get ``is_staff`` (access to the Django admin).
STAFF_GROUPS = (ADMINISTRATORS,)
