"""Reports: daily roll-ups kept by the change pipeline, dashboards, exports and process mining."""
