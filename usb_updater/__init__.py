"""The USB updater: notices sticks as they are mounted and runs the one-insert flow."""
