"""A sample Spark ETL job, laid out as a job is shipped to a cluster:

    etl_job.py                  this file, the main file (spark-submit's <application>)
    dependencies/               shared code, zipped into packages.zip (--py-files)
    configs/etl_config.json     the job's settings (--files), read back with SparkFiles

Extract ``rows`` numbers, transform them with ``dependencies.transforms`` (multiply by the
config's ``multiplier``, label even and odd), load the result as JSON into ``--output`` (or
the config's ``output_path``), and print one line, ``ETL_JOB_RESULT rows=<n> total=<sum>
output=<folder>``, that tells whoever reads the driver log what it did.

    ./build_dependencies.sh
    spark-submit --master 'local[2]' --py-files packages.zip --files configs/etl_config.json \\
        etl_job.py --output /tmp/etl-output

The README ("Spark jobs") shows how to submit the same three files from the Jobs page.
"""

from __future__ import annotations

import argparse
import sys

from dependencies.config import load_config
from dependencies.transforms import label_parity, multiply, summarise
from pyspark.sql import SparkSession


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="etl_config.json",
                        help="name of the config file sent with --files (default etl_config.json)")
    parser.add_argument("--output", help="folder to write the result to (default: the config's output_path)")
    args = parser.parse_args(argv)

    spark = SparkSession.builder.appName("etl_job").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")  # keep the driver log to what matters
    config = load_config(args.config)
    output = args.output or config["output_path"]

    source = spark.range(int(config["rows"]))                              # extract
    result = label_parity(multiply(source, int(config["multiplier"])))     # transform
    result.write.mode("overwrite").json(output)                            # load
    rows, total = summarise(result)
    print(f"ETL_JOB_RESULT rows={rows} total={total} output={output}", flush=True)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
