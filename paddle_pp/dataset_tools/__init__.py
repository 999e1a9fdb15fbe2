"""Data tools for paddle-pp: text_renderer-style synthesis, LMDB sets, label conversion and checks.

Every module here is also a command-line script (``python dataset_tools/<name>.py --help``).
"""
