"""Forms of the notebook."""

from django import forms

#: Longest code accepted in one statement, in characters (a guard, not a Livy limit).
MAX_CODE_LENGTH = 200_000


class RunForm(forms.Form):
    """The code editor: PySpark code to run as one statement."""

    code = forms.CharField(
        max_length=MAX_CODE_LENGTH,
        strip=False,
        widget=forms.Textarea(
            attrs={
                "rows": 10,
                "spellcheck": "false",
                "autocomplete": "off",
                "class": "code-editor",
                "aria-label": "PySpark code",
                "placeholder": "spark.range(100).selectExpr(\"sum(id) AS total\").show()",
            }
        ),
        error_messages={"required": "Write some code to run first."},
    )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"]
        if not code.strip():
            raise forms.ValidationError("Write some code to run first.")
        return code
