"""Code the sample job shares with other jobs; shipped as packages.zip (``--py-files``)."""
