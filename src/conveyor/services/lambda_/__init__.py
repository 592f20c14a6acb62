"""Lambda: functions as local processes, event source mappings, async invokes."""
