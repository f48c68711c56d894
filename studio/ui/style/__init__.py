"""The Style tab: its workspace and panel."""
