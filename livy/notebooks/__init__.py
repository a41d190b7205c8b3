"""Notebooks: named documents of ordered cells (Jupyter's terms), kept, run, shared and
exchanged as nbformat v4 ``.ipynb`` and ``.py`` percent files.

* :mod:`livy.notebooks.ipynb`: conversion from and to ``.ipynb`` and ``.py`` (nbformat; no Django).
* :mod:`livy.notebooks.markdown`: markdown cells rendered on the server (markdown-it-py) and
  sanitised with nh3.
* :mod:`livy.notebooks.selectors`: which notebooks a user may see, change and run (reads only).
* :mod:`livy.notebooks.service`: every write to notebooks and cells, and running cells
  through :func:`livy.lifecycle.submit`.
"""
