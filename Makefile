# Entry points; each target's script does its own set-up, so any of them works on a fresh clone.
.PHONY: run test unit check livy-up livy-down livy-status livy-logs bench bench-livy serve maintenance test-postgres postgres-up postgres-down postgres-status

run:            ## set up and serve the app on http://localhost:5000 with a local Apache Livy
	scripts/run.sh

test:           ## every test: unit, Fabric/Entra fakes, real local Livy, headless Chromium
	scripts/test.sh

unit:           ## the tests that need neither Livy nor a browser
	scripts/bootstrap.sh --dev && .venv/bin/python -m pytest -m "not livy and not e2e"

serve:          ## production: checks, collectstatic, migrate, roles, then gunicorn on ${HOST:-127.0.0.1}:${PORT:-8000}
	scripts/serve.sh

maintenance:    ## the cron job: stop idle sessions, refresh stale ones read-only, clear expired sign-ins
	scripts/bootstrap.sh && .venv/bin/python manage.py maintenance --idle-minutes $${IDLE_MINUTES:-60}

test-postgres:  ## the tests without Livy or a browser, on a throwaway PostgreSQL (races under gunicorn too)
	scripts/test-postgres.sh

postgres-up:    ## start the throwaway PostgreSQL (data in .pgdata/ or /var/tmp/livy-web-pg-*) on 127.0.0.1:55432; prints DATABASE_URL
	scripts/postgres.sh up

postgres-down:  ## stop the throwaway PostgreSQL
	scripts/postgres.sh down

postgres-status: ## is the throwaway PostgreSQL running? (prints DATABASE_URL)
	scripts/postgres.sh status

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

bench:          ## app cost per request (Livy faked): polls, the notebook page, a Run; notebook JSON/save/export of 200 cells
	scripts/bootstrap.sh --dev && .venv/bin/python benchmarks/bench_poll.py && .venv/bin/python benchmarks/bench_notebooks.py

bench-livy:     ## end-to-end figures against the real local Livy (browser, counting proxy, gunicorn load); ARGS="--samples 30"
	scripts/bootstrap.sh --dev && scripts/livy/livy.sh up && .venv/bin/python benchmarks/bench_livy.py $(ARGS)
