"""The PySide6 desktop app: widgets, the workspace shell and the one job runner.

Nothing here computes a loss: panels edit a parameters dataclass and start a job; the job
runner moves the engine's events onto Qt signals. Engines (``studio.engines``) never import Qt.
"""
