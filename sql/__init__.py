"""The SQL views, one per ``*.sql`` file, installed in file-name order (asaas/views.py).

This file only makes the folder ship inside the package as ``asaas.sql`` (see setup.py).
"""
