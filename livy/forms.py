"""Forms of the notebook."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms

from livy.remote.backends import BACKEND_CLASSES
from myapp.config import current_config

#: Longest code accepted in one statement, in characters (a guard, not a Livy limit).
MAX_CODE_LENGTH = 200_000
#: Statement kinds as users read them (Livy's ``kind`` values).
KIND_LABELS = {"pyspark": "PySpark", "sql": "Spark SQL", "spark": "Scala", "sparkr": "SparkR"}
#: Short labels shown on each statement.
KIND_SHORT_LABELS = {"pyspark": "PySpark", "sql": "SQL", "spark": "Scala", "sparkr": "R"}
DEFAULT_KIND = "pyspark"


def statement_kinds() -> tuple[str, ...]:
    """The statement kinds the configured backend runs (``backend.statement_kinds``)."""
    backend = BACKEND_CLASSES.get(current_config().LIVY_BACKEND)
    return backend.statement_kinds if backend else (DEFAULT_KIND,)


class RunForm(forms.Form):
    """The code editor: code to run as one statement, and its kind (PySpark, Spark SQL or
    Scala: any kind runs in any session on Livy 0.5+ and Fabric). A post without ``kind``
    runs PySpark."""

    code = forms.CharField(
        max_length=MAX_CODE_LENGTH,
        strip=False,
        widget=forms.Textarea(
            attrs={
                "rows": 10,
                "spellcheck": "false",
                "autocomplete": "off",
                "class": "code-editor",
                "aria-label": "Code",
                "placeholder": "spark.range(100).selectExpr(\"sum(id) AS total\").show()",
            }
        ),
        error_messages={"required": "Write some code to run first."},
    )
    kind = forms.ChoiceField(
        required=False,
        initial=DEFAULT_KIND,
        widget=forms.Select(attrs={"class": "kind-select", "aria-label": "Language"}),
    )

    def __init__(self, *args: Any, kinds: Sequence[str] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = self.fields["kind"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(k, KIND_LABELS.get(k, k)) for k in (kinds or statement_kinds())]

    def clean_code(self) -> str:
        code = self.cleaned_data["code"]
        if not code.strip():
            raise forms.ValidationError("Write some code to run first.")
        return code

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or DEFAULT_KIND
