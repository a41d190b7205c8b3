"""A batch request of the API (Livy's field names, JSON or multipart) handed to the Jobs
page's form (:class:`livy.job_forms.JobForm`), so the API checks jobs by exactly the page's
rules: this module only translates names, it validates nothing of its own beyond the shape
of the request (a field given twice, ``conf`` that is not a JSON object).

Multipart fields: ``file`` (an upload or a path), ``pyFiles``, ``files``, ``jars``,
``archives`` (repeatable; each an upload or a path), ``args`` (one per line; repeatable),
``conf`` (a JSON object), ``name``, ``className``, ``driverMemory``, ``driverCores``,
``executorMemory``, ``executorCores``, ``numExecutors``.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import QueryDict
from django.utils.datastructures import MultiValueDict
from ninja.errors import ValidationError

from api.schemas import BatchIn
from livy.job_forms import JobForm

#: API (Livy) field -> the form's field of paths (or text) and of uploads (None: no upload).
LIST_FIELDS = {"pyFiles": "py_files", "files": "files", "jars": "jars", "archives": "archives"}
SIZE_FIELDS = {"driverMemory": "driver_memory", "driverCores": "driver_cores", "executorMemory": "executor_memory",
               "executorCores": "executor_cores", "numExecutors": "num_executors"}
MULTIPART_FIELDS = frozenset({"file", "args", "conf", "name", "className", *LIST_FIELDS, *SIZE_FIELDS})
#: The form's field -> the API field its errors are reported under.
FORM_TO_API = {
    "label": "name", "file_upload": "file", "file_path": "file", "class_name": "className", "args": "args",
    **{f"{kind}_{part}": api for api, kind in LIST_FIELDS.items() for part in ("paths", "upload")},
    **{form: api for api, form in SIZE_FIELDS.items()},
}


def _invalid(field: str, message: str, kind: str = "value_error") -> ValidationError:
    return ValidationError([{"loc": ["body", field], "msg": message, "type": kind}])


def _form_data(*, file: str, lists: dict[str, list[str]], args: list[str], conf: dict[str, Any], name: str,
               class_name: str, sizes: dict[str, Any]) -> QueryDict:
    data = QueryDict(mutable=True)
    data["label"] = name
    data["file_path"] = file
    data["class_name"] = class_name
    for api_name, kind in LIST_FIELDS.items():
        data[f"{kind}_paths"] = "\n".join(lists.get(api_name, []))
    data["args"] = "\n".join(args)
    data.setlist("conf_key", [str(k) for k in conf])
    data.setlist("conf_value", [_conf_text(v) for v in conf.values()])
    for api_name, form_name in SIZE_FIELDS.items():
        value = sizes.get(api_name)
        data[form_name] = "" if value is None else str(value)
    return data


def _conf_text(value: Any) -> str:
    """A conf value as the form's text field holds it (JSON booleans as Spark writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def form_from_json(body: BatchIn) -> JobForm:
    """The Jobs page's form filled in from a JSON request (paths only)."""
    args = body.args.split("\n") if isinstance(body.args, str) else list(body.args)
    data = _form_data(file=body.file, lists={k: getattr(body, k) for k in LIST_FIELDS}, args=args,
                      conf=dict(body.conf), name=body.name, class_name=body.className,
                      sizes={k: getattr(body, k) for k in SIZE_FIELDS})
    return JobForm(data, MultiValueDict())


def form_from_multipart(post: QueryDict, files: MultiValueDict) -> JobForm:
    """The Jobs page's form filled in from a ``multipart/form-data`` request. Raises ninja's
    ``ValidationError`` (422) for an unknown field, a single-valued field given twice, or a
    ``conf`` that is not a JSON object of strings, numbers or booleans."""
    unknown = sorted((set(post) | set(files)) - MULTIPART_FIELDS)
    if unknown:
        raise ValidationError([{"loc": ["body", name], "msg": "Unknown field.", "type": "extra_forbidden"}
                               for name in unknown[:20]])
    for name in ("file", "conf", "name", "className", *SIZE_FIELDS):
        if len(post.getlist(name)) + len(files.getlist(name)) > 1:
            raise _invalid(name, "Give this field once.")
    conf: dict[str, Any] = {}
    if post.get("conf", "").strip():
        try:
            conf = json.loads(post["conf"])
        except ValueError:
            raise _invalid("conf", "conf must be a JSON object, e.g. {\"spark.executor.memory\": \"2g\"}.") from None
        if not isinstance(conf, dict) or not all(isinstance(v, (str, int, float, bool)) for v in conf.values()):
            raise _invalid("conf", "conf must be a JSON object of strings, numbers or booleans.")
    data = _form_data(file=post.get("file", ""), lists={k: post.getlist(k) for k in LIST_FIELDS},
                      args="\n".join(post.getlist("args")).split("\n"), conf=conf, name=post.get("name", ""),
                      class_name=post.get("className", ""), sizes={k: post.get(k) or None for k in SIZE_FIELDS})
    uploads = MultiValueDict()
    if "file" in files:
        uploads["file_upload"] = files["file"]
    for api_name, kind in LIST_FIELDS.items():
        if files.getlist(api_name):
            uploads.setlist(f"{kind}_upload", files.getlist(api_name))
    return JobForm(data, uploads)


def form_errors(form: JobForm) -> ValidationError:
    """The form's errors as a 422 (``loc`` under the API's field names; form-wide ones under
    ``body``)."""
    errors = []
    for field, messages in form.errors.items():
        loc = ["body"] if field == "__all__" else ["body", FORM_TO_API.get(field, field)]
        errors += [{"loc": loc, "msg": str(m), "type": "invalid"} for m in messages]
    return ValidationError(errors)
