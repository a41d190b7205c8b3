"""The Jobs page's submit form: a Spark job (Livy batch) as a user describes it, files
uploaded or given as paths the cluster can read, checked before anything is sent.

What is accepted, and why:

* the main file: a ``.py``, or a ``.jar`` with its main class (what ``spark-submit`` runs);
* ``pyFiles``: ``.py``, ``.zip``, ``.egg``, ``.whl`` (Spark's ``--py-files``); ``jars``:
  ``.jar``; ``archives``: ``.zip``, ``.tar``, ``.tar.gz``, ``.tgz``, ``.jar`` (Spark unpacks
  them); ``files``: anything;
* paths, Apache Livy: a URI of a cluster file system (``hdfs://``, ``s3a://``, ``abfss://``,
  ``gs://``, ``wasbs://``, ``local:/``...) or an absolute local path inside
  ``LIVY_BATCH_UPLOAD_DIR`` or ``LIVY_BATCH_LOCAL_DIRS`` (Livy itself refuses local paths
  outside ``livy.file.local-dir-whitelist``); Fabric: ``abfss://`` paths in OneLake, and no
  uploads (upload the files to the lakehouse's ``Files/`` first);
* arguments: one per line, passed exactly as written (empty lines skipped), text only (no
  control characters); ``conf``: key/value rows, keys like ``spark.executor.memory``;
* sizes: Spark's memory strings (``512m``, ``2g``), cores and executors as counts.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import asdict
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from livy.batches import JobInputs, UploadRejected, store_upload, upload_gone, upload_root
from livy.clients import current_config

#: Longest text of one path list or of the arguments, in characters.
MAX_LIST_CHARS = 20_000
#: Most conf rows accepted.
MAX_CONF_ROWS = 100
#: URI schemes Apache Livy passes on to spark-submit for cluster file systems.
CLUSTER_SCHEMES = ("hdfs", "viewfs", "s3a", "s3", "abfs", "abfss", "wasb", "wasbs", "gs", "http", "https")
#: Extensions accepted per input (lower case), None: any.
EXTENSIONS: dict[str, tuple[str, ...] | None] = {
    "file": (".py", ".jar"),
    "py_files": (".py", ".zip", ".egg", ".whl"),
    "jars": (".jar",),
    "archives": (".zip", ".tar", ".tar.gz", ".tgz", ".jar"),
    "files": None,
}
LABELS = {"file": "Main file", "py_files": "pyFiles", "files": "files", "jars": "jars", "archives": "archives"}
_MEMORY = re.compile(r"^\d+[kmgt]?b?$", re.IGNORECASE)
_CONF_KEY = re.compile(r"^[A-Za-z0-9_.\-]+$")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field taking several files (Django's documented pattern)."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


def _is_text(value: str) -> bool:
    """No control characters (tab allowed), no unpaired surrogates."""
    return all(ch == "\t" or unicodedata.category(ch) not in ("Cc", "Cs") for ch in value)


def _has_extension(path: str, allowed: tuple[str, ...] | None) -> bool:
    if allowed is None:
        return True
    name = path.rstrip("/").rsplit("/", 1)[-1].split("#", 1)[0].lower()
    return name.endswith(allowed)


def check_path(value: str, backend: str, allowed_dirs: list[str]) -> str:
    """``value`` (a path or URI given on the form) as sent to Livy, or ``ValueError`` with the
    user's message. See the module docstring for what each backend accepts."""
    value = value.strip()
    if not _is_text(value) or not value:
        raise ValueError("is not a path (it holds control characters)")
    scheme = value.split(":", 1)[0].lower() if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", value) else ""
    if backend == "fabric":
        if scheme != "abfss":
            raise ValueError("on Fabric, give an abfss:// path in OneLake, e.g. "
                             "abfss://<workspace>@onelake.dfs.fabric.microsoft.com/<lakehouse>/Files/job.py")
        return value
    if scheme in CLUSTER_SCHEMES:
        if not re.match(r"^[A-Za-z0-9+.-]+:/", value):
            raise ValueError(f"is not a {scheme}:// URI")
        return value
    if scheme and scheme not in ("file", "local"):
        raise ValueError(f"uses the scheme {scheme}:, which Livy cannot read here (use hdfs://, s3a://, abfss://, "
                         "gs://, local:/ or a local path)")
    # local: (a file on every node) bypasses Livy's local-dir whitelist, which checks file: only,
    # so it is held to the same allowed folders; a percent sign could hide a ".." from realpath
    # that java.net.URI decodes again (Livy's Session.resolveURI), so none is accepted.
    if "%" in value:
        raise ValueError("holds a percent sign: give the local path without percent-encoding")
    local = value[len(scheme) + 1:] if scheme in ("file", "local") else value
    local = "/" + local.lstrip("/") if local.startswith("//") else local
    if not local.startswith("/"):
        raise ValueError("is a relative path: give an absolute path on the Livy server, or a URI")
    real = os.path.realpath(local)
    for folder in allowed_dirs:
        root = os.path.realpath(folder)
        if real.startswith(root.rstrip("/") + "/"):
            return ("local:" + real) if scheme == "local" else real
    raise ValueError(f"is outside the folders Livy may read local files from ({', '.join(allowed_dirs)})")


class JobForm(forms.Form):
    """A Spark job to submit. Valid, :meth:`inputs` gives the :class:`JobInputs` to send
    (uploads stored under ``LIVY_BATCH_UPLOAD_DIR``). Uploads that pass their checks are
    stored even when another field is wrong, and the form's data then lists them as paths,
    so a form shown again with its errors has lost nothing."""

    label = forms.CharField(label="Name", max_length=120, required=False,
                            widget=forms.TextInput(attrs={"placeholder": "etl-daily"}))
    file_upload = forms.FileField(label="Upload", required=False)
    file_path = forms.CharField(label="or path", max_length=2000, required=False)
    class_name = forms.CharField(label="Main class (.jar only)", max_length=300, required=False)
    py_files_upload = MultipleFileField(label="Upload", required=False)
    py_files_paths = forms.CharField(label="or paths, one per line", max_length=MAX_LIST_CHARS, required=False,
                                     widget=forms.Textarea(attrs={"rows": 2}))
    files_upload = MultipleFileField(label="Upload", required=False)
    files_paths = forms.CharField(label="or paths, one per line", max_length=MAX_LIST_CHARS, required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}))
    archives_upload = MultipleFileField(label="Upload", required=False)
    archives_paths = forms.CharField(label="or paths, one per line", max_length=MAX_LIST_CHARS, required=False,
                                     widget=forms.Textarea(attrs={"rows": 2}))
    jars_upload = MultipleFileField(label="Upload", required=False)
    jars_paths = forms.CharField(label="or paths, one per line", max_length=MAX_LIST_CHARS, required=False,
                                 widget=forms.Textarea(attrs={"rows": 2}))
    args = forms.CharField(label="Arguments, one per line", max_length=MAX_LIST_CHARS, required=False, strip=False,
                           widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}))
    driver_memory = forms.CharField(max_length=20, required=False, widget=forms.TextInput(attrs={"placeholder": "1g"}))
    driver_cores = forms.IntegerField(min_value=1, max_value=256, required=False)
    executor_memory = forms.CharField(max_length=20, required=False,
                                      widget=forms.TextInput(attrs={"placeholder": "1g"}))
    executor_cores = forms.IntegerField(min_value=1, max_value=256, required=False)
    num_executors = forms.IntegerField(label="Executors", min_value=1, max_value=10_000, required=False)

    KINDS = ("py_files", "files", "archives", "jars")

    def __init__(self, *args: Any, refused: list[tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        #: Uploads dropped while the body streamed (:func:`livy.uploads.refusals`): (field, message).
        self.refused = list(refused or [])
        self.cfg = current_config()
        self.backend = self.cfg.LIVY_BACKEND
        self.uploads_allowed = self.backend != "fabric"
        if self.is_bound:
            # Uploads stored are written back as paths (the posted QueryDict is immutable).
            self.data = self.data.copy()  # type: ignore[has-type]
        self._inputs: JobInputs | None = None
        self.stored: list[str] = []
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "job-input")

    @classmethod
    def initial_from(cls, inputs: JobInputs) -> dict[str, Any]:
        """The form's ``initial`` for a Resubmit of ``inputs`` (uploads appear as their stored paths)."""
        data = asdict(inputs)
        initial: dict[str, Any] = {"label": inputs.label, "file_path": inputs.file, "class_name": inputs.class_name,
                                   "args": "\n".join(inputs.args)}
        for kind in cls.KINDS:
            initial[f"{kind}_paths"] = "\n".join(data[kind])
        for name in ("driver_memory", "driver_cores", "executor_memory", "executor_cores", "num_executors"):
            initial[name] = data[name]
        initial["conf_rows"] = list(inputs.conf.items())
        return initial

    # ------------------------------------------------------------------------ conf rows
    def conf_rows(self) -> list[tuple[str, str]]:
        """The conf rows to draw: the posted ones (or the initial ones), then empty rows."""
        if self.is_bound:
            rows = list(zip(self.data.getlist("conf_key"), self.data.getlist("conf_value"), strict=False))
            rows = [(k, v) for k, v in rows if k.strip() or v.strip()]
        else:
            rows = list(self.initial.get("conf_rows") or [])
        return rows + [("", "")] * (2 if len(rows) < 2 else 1)

    def _clean_conf(self) -> dict[str, str]:
        conf: dict[str, str] = {}
        keys, values = self.data.getlist("conf_key"), self.data.getlist("conf_value")
        if len(keys) > MAX_CONF_ROWS:
            self.add_error(None, f"At most {MAX_CONF_ROWS} conf rows.")
            return conf
        for key, value in zip(keys, values, strict=False):
            key, value = key.strip(), value.strip()
            if not key and not value:
                continue
            if not key:
                self.add_error(None, f"Spark conf: the value {value[:40]!r} has no key.")
            elif not _CONF_KEY.match(key):
                self.add_error(None, f"Spark conf: {key[:60]!r} is not a configuration key (like spark.executor.memory).")
            elif key in conf:
                self.add_error(None, f"Spark conf: {key} is given twice.")
            elif not _is_text(value):
                self.add_error(None, f"Spark conf: the value of {key} holds control characters.")
            else:
                conf[key] = value
        return conf

    # ---------------------------------------------------------------------------- checks
    def _allowed_dirs(self) -> list[str]:
        return [str(upload_root(self.cfg)), *self.cfg.LIVY_BATCH_LOCAL_DIRS]

    def _paths(self, kind: str, lines: list[str], field: str) -> list[str]:
        out: list[str] = []
        for line in lines:
            if not line.strip():
                continue
            try:
                path = check_path(line, self.backend, self._allowed_dirs())
            except ValueError as exc:
                self.add_error(field, f"{line.strip()[:200]} {exc}.")
                continue
            if not _has_extension(path, EXTENSIONS[kind]):
                self.add_error(field, self._type_message(kind, line.strip()))
                continue
            gone = upload_gone(path, self.cfg)
            if gone:
                self.add_error(field, gone)
                continue
            out.append(path)
        return out

    @staticmethod
    def _type_message(kind: str, name: str) -> str:
        allowed = EXTENSIONS[kind] or ()
        what = {"file": "a main file", "py_files": "pyFiles", "jars": "jars", "archives": "archives"}[kind]
        return f"{name[:200]}: Livy cannot use this type as {what} (accepted: {', '.join(allowed)})."

    def _store(self, kind: str, uploads: list[UploadedFile], field: str) -> list[str]:
        stored: list[str] = []
        for upload in uploads:
            if not self.uploads_allowed:  # the form has no upload fields on Fabric: a form-wide error
                self.add_error(None, f"{upload.name}: uploads are not possible on Fabric here: upload the file to the "
                                     "lakehouse's Files/ (OneLake) and give its abfss:// path.")
                continue
            if not _has_extension(upload.name or "", EXTENSIONS[kind]):
                self.add_error(field, self._type_message(kind, upload.name or "?"))
                continue
            try:
                stored.append(store_upload(upload, self.cfg))
            except UploadRejected as exc:
                self.add_error(field, str(exc))
            except OSError as exc:
                self.add_error(field, f"{upload.name} could not be stored on the server ({exc.strerror or exc}).")
        self.stored += stored
        return stored

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        inputs: dict[str, Any] = {}
        for name, message in self.refused:
            self.add_error(name if name in self.fields else None, message)
        # Main file: an upload or a path.
        main_upload = data.get("file_upload")
        main_path = (data.get("file_path") or "").strip()
        main = ""
        if main_upload and main_path:
            self.add_error("file_path", "Give the main file once: an upload or a path, not both.")
        elif main_upload:
            stored = self._store("file", [main_upload], "file_upload")
            if stored:
                main = stored[0]
                self.data["file_path"] = main
        elif main_path:
            found = self._paths("file", [main_path], "file_path")
            main = found[0] if found else ""
        elif "file_path" not in self.errors and "file_upload" not in self.errors:
            self.add_error("file_path", "Choose the main file: upload a .py (or a .jar with its main class) or give "
                                        "its path.")
        class_name = (data.get("class_name") or "").strip()
        if main.lower().endswith(".jar") and not class_name:
            self.add_error("class_name", "A .jar main file needs its main class (e.g. com.example.Main).")
        if class_name and main.lower().endswith(".py"):
            self.add_error("class_name", "A main class is only for a .jar main file: leave it empty for a .py.")
        if class_name and not re.fullmatch(r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*", class_name):
            self.add_error("class_name", f"{class_name[:100]!r} is not a Java class name.")
        # Dependencies: uploads stored, paths checked; stored uploads join the paths.
        for kind in self.KINDS:
            paths_field = f"{kind}_paths"
            lines = (data.get(paths_field) or "").splitlines()
            paths = self._paths(kind, lines, paths_field)
            stored = self._store(kind, data.get(f"{kind}_upload") or [], f"{kind}_upload")
            if stored:
                self.data[paths_field] = "\n".join([line for line in lines if line.strip()] + stored)
            inputs[kind] = paths + stored
        # Arguments: one per line, exactly as written.
        args: list[str] = []
        for number, line in enumerate((data.get("args") or "").split("\n"), start=1):
            line = line.removesuffix("\r")
            if not line.strip():
                continue
            if not _is_text(line):
                self.add_error("args", f"Argument on line {number} holds control characters: arguments must be text.")
            args.append(line)
        for size in ("driver_memory", "executor_memory"):
            value = (data.get(size) or "").strip()
            if value and not _MEMORY.match(value):
                self.add_error(size, f"{value[:20]!r} is not a Spark memory size (like 512m or 2g).")
        conf = self._clean_conf()
        if self.stored and self.errors:
            self.add_error(None, "Uploaded files are kept: they are listed as paths below.")
        if not self.errors:
            self._inputs = JobInputs(
                file=main, label=(data.get("label") or "").strip(), class_name=class_name, args=args,
                py_files=inputs["py_files"], files=inputs["files"], jars=inputs["jars"], archives=inputs["archives"],
                conf=conf, driver_memory=(data.get("driver_memory") or "").strip(),
                driver_cores=data.get("driver_cores"), executor_memory=(data.get("executor_memory") or "").strip(),
                executor_cores=data.get("executor_cores"), num_executors=data.get("num_executors"),
            )
        return data

    def inputs(self) -> JobInputs:
        """The valid form as :class:`JobInputs` (call after ``is_valid()`` returned True)."""
        assert self._inputs is not None, "inputs() of a form that is not valid"
        return self._inputs

    def keep_stored_uploads(self) -> None:
        """After Livy refused a valid form: list the stored uploads as paths, so the form
        shown again submits the same files without choosing them again."""
        if self._inputs is not None:
            self.data["file_path"] = self._inputs.file
            for kind in self.KINDS:
                self.data[f"{kind}_paths"] = "\n".join(getattr(self._inputs, kind))
