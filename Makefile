# Entry points; each target's script does its own set-up, so any of them works on a fresh clone.
.PHONY: run test unit check livy-up livy-down livy-status livy-logs bench

run:            ## set up and serve the app on http://localhost:5000 with a local Apache Livy
	scripts/run.sh

test:           ## every test: unit, Fabric/Entra fakes, real local Livy, headless Chromium
	scripts/test.sh

unit:           ## the tests that need neither Livy nor a browser
	scripts/bootstrap.sh --dev && .venv/bin/python -m pytest -m "not livy and not e2e"

check:          ## Django system checks (configuration errors name the variable)
	scripts/bootstrap.sh && .venv/bin/python manage.py check

livy-up:        ## start Apache Livy on 127.0.0.1:8998 (first time: unpack the distribution, pyspark venv)
	scripts/livy/livy.sh up

livy-down:      ## stop the local Apache Livy and its Spark drivers
	scripts/livy/livy.sh down

livy-status:    ## is the local Apache Livy running?
	scripts/livy/livy.sh status

livy-logs:      ## last lines of the local Apache Livy's log
	scripts/livy/livy.sh logs

bench:          ## figures for the poll endpoint and the notebook page (Livy faked, app cost only)
	scripts/bootstrap.sh --dev && .venv/bin/python benchmarks/bench_poll.py
