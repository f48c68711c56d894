"""The Harmonize tab: its workspace, panel, canvas tool and mask editor."""
