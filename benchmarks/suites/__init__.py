"""asv benchmark suites for rnnkit (see ../asv.conf.json)."""
