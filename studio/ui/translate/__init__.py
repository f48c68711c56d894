"""The Translate tab: its workspace, panel and selection tool."""
