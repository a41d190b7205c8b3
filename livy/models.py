"""Rows for Livy sessions and statements. Every session and statement is a row first and a Livy
call second; the rows are also the audit trail of who ran what, where and when.

State fields hold Livy's own state names (:mod:`livy.remote.states`), plus three of ours for
statements Livy has not confirmed (:class:`livy.states.OwnStatementState`: ``queued``,
``sending``, ``failed``). What a state means is asked of :mod:`livy.states`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from livy import states
from livy.remote.errors import LivyProtocolError
from livy.remote.states import SessionState, StatementState
from livy.remote.types import ReplHandle
from livy.states import OwnStatementState


class SparkSession(models.Model):
    """A Livy interactive session started by this app for one user.

    ``livy_id`` is a string (Apache: an integer, Fabric: a GUID) and is empty until Livy
    accepted the create call. ``active`` marks the one session a user's notebook uses; a
    partial unique constraint keeps it to one per owner, backend and ``repl_scope``, across
    processes (``repl_scope`` is "" except for the per-notebook REPLs of Fabric's high
    concurrency mode, see :func:`repl_scope_for`).
    """

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "backend", "repl_scope"],
                condition=Q(active=True),
                name="one_active_session_per_owner_backend_and_scope",
            )
        ]
        indexes = [models.Index(fields=["backend", "livy_id"])]
        permissions = [
            ("view_all_sessions", "Can see every user's sessions and statements"),
            ("stop_any_session", "Can stop any user's session"),
        ]

    STATE_CHOICES = [(s.value, s.value) for s in SessionState]

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="spark_sessions")
    backend = models.CharField(max_length=16)
    endpoint = models.CharField(max_length=500, help_text="Livy base endpoint the session lives on.")
    livy_id = models.CharField(
        "Livy id", max_length=120, blank=True, default="",
        help_text="Livy's session id; Fabric high concurrency: highConcurrencyId:sessionId:replId (see ReplHandle).",
    )
    name = models.CharField(max_length=200)
    repl_scope = models.CharField(
        max_length=40, blank=True, default="",
        help_text="What the session serves: empty = the user's console and notebooks (standard mode); "
        "notebook:<id> = one notebook's own REPL (Fabric high concurrency).",
    )
    kind = models.CharField(max_length=32, default="pyspark")
    state = models.CharField(max_length=32, default=SessionState.NOT_STARTED.value, choices=STATE_CHOICES)
    phase = models.CharField(
        max_length=64, blank=True, default="",
        help_text="Fabric's acquisition phase while the session is set up (queued, libraryPackaging, acquiringSession, ...).",
    )
    active = models.BooleanField(default=True)
    app_id = models.CharField("Spark application id", max_length=200, blank=True, default="")
    spark_ui_url = models.URLField("Spark UI", max_length=1000, blank=True, default="")
    driver_log_url = models.URLField("Driver log", max_length=1000, blank=True, default="")
    error_message = models.TextField(blank=True, default="", help_text="Why the session failed, if it did.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ready_at = models.DateTimeField(null=True, blank=True, help_text="When Livy first reported the session ready.")
    refreshed_at = models.DateTimeField(null=True, blank=True, help_text="Last time the state was read from Livy.")
    kept_alive_at = models.DateTimeField(null=True, blank=True, help_text="Last reset-timeout sent to Livy (Fabric).")
    ended_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"

    @property
    def session_state(self) -> SessionState:
        return SessionState(self.state)

    @property
    def is_terminal(self) -> bool:
        """The session will never run code again."""
        return self.session_state.is_terminal

    @property
    def is_ready(self) -> bool:
        """The session accepts statements now (idle or busy)."""
        return self.session_state.is_ready

    @property
    def tone(self) -> str:
        """Badge tone of the state (see :func:`livy.states.session_tone`)."""
        return states.session_tone(self.state)

    @property
    def repl(self) -> ReplHandle | None:
        """The Fabric high-concurrency REPL this row stands for once Fabric told its pair
        (``livy_id`` is ``hcId:sessionId:replId``), else None (a plain Livy session, or a
        REPL still being acquired)."""
        if self.livy_id.count(":") != 2:
            return None
        try:
            return ReplHandle.parse(self.livy_id)
        except LivyProtocolError:
            return None

    @property
    def start_seconds(self) -> float | None:
        """Seconds from the row's creation to Livy first reporting the session ready, or None."""
        if self.ready_at is None:
            return None
        return max(0.0, (self.ready_at - self.created_at).total_seconds())


def repl_scope_for(notebook_pk: int | None) -> str:
    """The ``repl_scope`` of a session serving notebook ``notebook_pk`` (None: the console)."""
    return f"notebook:{notebook_pk}" if notebook_pk is not None else ""


class Statement(models.Model):
    """One piece of code a user ran in a session, with its outcome.

    ``output`` is Livy's ``output`` object as JSON (``status``, ``execution_count``, ``data``
    by MIME type, ``ename``, ``evalue``, ``traceback``); the error fields are copied out of it
    for search and display. ``progress`` is 0.0–1.0.
    """

    class Meta:
        ordering = ["session", "created_at", "pk"]
        indexes = [models.Index(fields=["session", "state"])]
        permissions = [("run_code", "Can run code in their own sessions")]

    QUEUED = OwnStatementState.QUEUED.value
    SENDING = OwnStatementState.SENDING.value
    FAILED = OwnStatementState.FAILED.value
    STATE_CHOICES = [(QUEUED, QUEUED), (SENDING, SENDING)] + [
        (s.value, s.value) for s in StatementState
    ] + [(FAILED, FAILED)]

    session = models.ForeignKey(SparkSession, on_delete=models.CASCADE, related_name="statements")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="statements")
    code = models.TextField()
    kind = models.CharField(max_length=32, default="pyspark")
    livy_id = models.IntegerField("Livy statement id", null=True, blank=True)
    state = models.CharField(max_length=32, default=QUEUED, choices=STATE_CHOICES)
    progress = models.FloatField(default=0.0)
    output = models.JSONField(null=True, blank=True)
    error_name = models.CharField(max_length=300, blank=True, default="")
    error_value = models.TextField(blank=True, default="")
    traceback = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    available_seen_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When Livy was first seen calling the statement available without its output (our clock).",
    )
    cell = models.ForeignKey("Cell", null=True, blank=True, on_delete=models.SET_NULL, related_name="statements",
                             help_text="The notebook cell this statement ran (null: the scratch console, or the notebook was deleted).")
    run = models.ForeignKey("NotebookRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="statements",
                            help_text="The notebook run (Run all, Run from here, Run) this statement belongs to.")

    def __str__(self) -> str:
        first_line = self.code.strip().splitlines()[0] if self.code.strip() else ""
        return f"#{self.pk} {first_line[:60]}"

    @property
    def is_terminal(self) -> bool:
        """The statement will not change state again."""
        return states.statement_is_terminal(self.state)

    @property
    def is_running(self) -> bool:
        """Livy runs (or may run) the code: waiting, running or cancelling."""
        return states.statement_is_running(self.state)

    @property
    def is_queued(self) -> bool:
        """Saved, waiting for its session to be ready (see :func:`livy.states.statement_is_queued`)."""
        return states.statement_is_queued(self.state)

    @property
    def is_sending(self) -> bool:
        """Being sent to Livy (see :func:`livy.states.statement_is_sending`)."""
        return states.statement_is_sending(self.state)

    @property
    def is_cancelling(self) -> bool:
        """Asked to cancel, still running (see :func:`livy.states.statement_is_cancelling`)."""
        return states.statement_is_cancelling(self.state)

    @property
    def is_error(self) -> bool:
        return states.statement_is_error(self.state) or bool(self.error_name)

    @property
    def tone(self) -> str:
        """Badge tone of the state (see :func:`livy.states.statement_tone`)."""
        return states.statement_tone(self.state)

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.completed_at:
            return max(0.0, (self.completed_at - self.started_at).total_seconds())
        return None


class Notebook(models.Model):
    """A named document of ordered cells (Jupyter's notebook) that its owner writes, saves,
    runs and exports (nbformat v4 ``.ipynb``, ``.py`` percent format: :mod:`livy.notebooks`).

    ``version`` is the optimistic-concurrency counter of the cells: every save of cell
    sources, kinds or order checks the version the editor last read and adds 1, so two tabs
    never silently overwrite each other (:class:`livy.notebooks.service.Conflict`). The title
    is not part of it. ``shared_with``: Django groups whose members may read the notebook and
    its outputs (never run or change it). Deleting a notebook keeps its statements (the audit
    trail): their ``cell`` becomes null.
    """

    class Meta:
        ordering = ["-updated_at", "-pk"]
        indexes = [models.Index(fields=["owner", "-updated_at"])]
        permissions = [("view_all_notebooks", "Can see every user's notebooks")]

    title = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notebooks")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1, help_text="Goes up by one with every save of the cells.")
    shared_with = models.ManyToManyField(
        "auth.Group", blank=True, related_name="shared_notebooks",
        help_text="Members of these groups may read this notebook and its outputs.",
    )

    def __str__(self) -> str:
        return self.title

    @property
    def parameters_cell(self) -> Cell | None:
        """The cell marked as the parameters cell (papermill's ``parameters`` tag), or None."""
        return self.cells.filter(is_parameters=True).first()


class Cell(models.Model):
    """One cell of a notebook: ``kind`` is a Livy statement kind (``pyspark``, ``sql``,
    ``spark`` = Scala) or ``markdown`` (rendered, never sent to Livy). ``position`` orders the
    cells of a notebook from 0. ``last_statement`` is the latest run of the cell; every run
    stays a :class:`Statement` (``Statement.cell``). ``metadata`` keeps what an imported
    ``.ipynb`` cell carried that this app does not use, written back on export.
    """

    PYSPARK, SQL, SPARK, MARKDOWN = "pyspark", "sql", "spark", "markdown"
    KIND_CHOICES = [(PYSPARK, "PySpark"), (SQL, "Spark SQL"), (SPARK, "Scala"), (MARKDOWN, "Markdown")]
    CODE_KINDS = (PYSPARK, SQL, SPARK)

    class Meta:
        ordering = ["notebook", "position", "pk"]
        indexes = [models.Index(fields=["notebook", "position"])]
        constraints = [
            models.UniqueConstraint(fields=["notebook"], condition=Q(is_parameters=True),
                                    name="one_parameters_cell_per_notebook"),
        ]

    notebook = models.ForeignKey(Notebook, on_delete=models.CASCADE, related_name="cells")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=KIND_CHOICES, default=PYSPARK)
    source = models.TextField(blank=True, default="")
    is_parameters = models.BooleanField("parameters cell", default=False)
    last_statement = models.ForeignKey(Statement, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    metadata = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.notebook_id}[{self.position}] {self.kind}"

    @property
    def is_code(self) -> bool:
        return self.kind in self.CODE_KINDS
class NotebookRun(models.Model):
    """One run of notebook cells by a user: a Run (``cell``), Run all (``all``) or Run from here
    (``from``), optionally with ``parameters`` (papermill's convention: a statement with the
    values is injected after the parameters cell). Its statements (``Statement.run``) go to
    Livy one at a time, in notebook order; the first that ends not OK stops the run: the rest
    are ``cancelled`` ("Not run: cell 3 failed"), the run is ``failed`` and ``failed_cell``
    names the cell (:func:`livy.lifecycle.settle_run`). Deleting the notebook keeps the run
    (the audit trail): ``notebook`` becomes null.

    ``queued`` is set in the transaction that saves the run's statements (or keeps them as
    failed), as is ``injected_statement`` (the statement with the parameters): until then the run is only starting (its session may be starting on Livy) and
    nothing about it is concluded. ``stop_reason`` says why a run stopped when no cell of it
    failed ("the session ended during cell 2", "sign in again, ..."), as
    :func:`livy.notebooks.service.run_message` shows it.
    """

    CELL, ALL, FROM = "cell", "all", "from"
    MODE_CHOICES = [(CELL, "Run"), (ALL, "Run all"), (FROM, "Run from here")]
    RUNNING, SUCCEEDED, FAILED, CANCELLED = "running", "succeeded", "failed", "cancelled"
    STATE_CHOICES = [(RUNNING, RUNNING), (SUCCEEDED, SUCCEEDED), (FAILED, FAILED), (CANCELLED, CANCELLED)]

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["notebook", "-created_at"]), models.Index(fields=["state"])]

    notebook = models.ForeignKey(Notebook, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notebook_runs")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    mode = models.CharField(max_length=8, choices=MODE_CHOICES, default=ALL)
    parameters = models.JSONField(null=True, blank=True, help_text="The values injected after the parameters cell.")
    state = models.CharField(max_length=16, choices=STATE_CHOICES, default=RUNNING)
    failed_cell = models.ForeignKey(Cell, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    help_text="The cell whose statement stopped the run.")
    queued = models.BooleanField(
        default=False, help_text="Its statements are saved: only then may the run be settled (succeeded, failed).")
    injected_statement = models.ForeignKey(
        "Statement", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The statement with the injected parameters (run with parameters), saved with the statements.")
    stop_reason = models.CharField(
        max_length=300, blank=True, default="",
        help_text="Why the run stopped when it was not a cell that failed (its session ended, sign in again).")

    def __str__(self) -> str:
        return f"run {self.pk} of notebook {self.notebook_id} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state != self.RUNNING


# ------------------------------------------------------------------------------ Spark jobs
class Batch(models.Model):
    """A Spark job a user submitted as a Livy batch (``POST /batches``): the row is written
    before the Livy call and updated from Livy's answers; it is also the audit trail (who,
    when, the exact request sent, the final state and log).

    ``livy_id`` is a string (Apache: an integer, Fabric: a GUID), empty until Livy accepted
    the request. ``name`` is the unique Livy ``name`` sent with it: with ``livy_id`` it
    proves a Livy batch is this row's (Livy numbers batches from 0 again after a restart).
    ``request`` is the JSON body sent; ``inputs`` what the user entered (for Resubmit);
    ``log_stdout``/``log_stderr`` the log as read from Livy while the batch ran (Livy keeps
    only the last ``livy.cache-log.size`` lines of each and forgets finished batches).
    """

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["backend", "livy_id"]), models.Index(fields=["owner", "created_at"])]
        permissions = [
            ("submit_batch", "Can submit Spark jobs (Livy batches) and see their own"),
            ("view_all_batches", "Can see every user's Spark jobs"),
            ("kill_any_batch", "Can kill any user's Spark job"),
        ]

    #: Our state for a request Livy refused or never got (nothing runs).
    NOT_SUBMITTED = "not_submitted"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="batches")
    backend = models.CharField(max_length=16)
    endpoint = models.CharField(max_length=500, help_text="Livy base endpoint the batch was sent to.")
    livy_id = models.CharField("Livy id", max_length=64, blank=True, default="")
    name = models.CharField(max_length=200, help_text="The name sent to Livy (unique per submission).")
    label = models.CharField(max_length=120, blank=True, default="", help_text="The name the user gave the job.")
    state = models.CharField(max_length=32, default=SessionState.NOT_STARTED.value)
    phase = models.CharField(max_length=64, blank=True, default="",
                             help_text="Fabric's phase while it acquires compute (queued, libraryPackaging, submitting).")
    request = models.JSONField(default=dict, help_text="The exact JSON body sent as POST /batches.")
    inputs = models.JSONField(default=dict, help_text="What the user entered (files as the paths sent), for Resubmit.")
    app_id = models.CharField("Spark application id", max_length=200, blank=True, default="")
    spark_ui_url = models.URLField("Spark UI", max_length=1000, blank=True, default="")
    driver_log_url = models.URLField("Driver log", max_length=1000, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    log_stdout = models.TextField(blank=True, default="",
                                  help_text="spark-submit's stdout as read from Livy while the batch ran (Fabric: its log[]).")
    log_stderr = models.TextField(blank=True, default="", help_text="spark-submit's stderr (Spark's driver log).")
    log_final = models.BooleanField(default=False, help_text="The log was read after the batch ended.")
    resubmitted_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="resubmissions")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True, help_text="When Livy accepted the request.")
    running_at = models.DateTimeField(null=True, blank=True, help_text="When Livy first reported it running.")
    ended_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True, help_text="Last time the state was read from Livy.")

    def __str__(self) -> str:
        return f"{self.label or self.name} ({self.state})"

    @property
    def is_terminal(self) -> bool:
        """The batch will not change state again (ended on Livy, or never submitted)."""
        return self.state == self.NOT_SUBMITTED or SessionState(self.state).is_terminal

    @property
    def tone(self) -> str:
        """Badge tone of the state (``success`` is ok, ``dead``/``not_submitted`` error)."""
        if self.state == SessionState.SUCCESS.value:
            return "ok"
        if self.state in (SessionState.DEAD.value, SessionState.ERROR.value, self.NOT_SUBMITTED):
            return "error"
        if self.state == SessionState.KILLED.value:
            return "ended"
        if self.state == SessionState.RUNNING.value:
            return "running"
        return "waiting"

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from Livy accepting the request to the end (or now, while it runs)."""
        if self.submitted_at is None:
            return None
        from django.utils import timezone

        end = self.ended_at or (None if self.is_terminal else timezone.now())
        return None if end is None else max(0.0, (end - self.submitted_at).total_seconds())
