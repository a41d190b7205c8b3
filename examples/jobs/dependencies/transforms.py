"""The sample job's transformations: plain functions from DataFrame to DataFrame, so they can
be tested and reused by other jobs."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def multiply(df: DataFrame, factor: int) -> DataFrame:
    """``df`` (with an ``id`` column) with ``value`` = ``id`` × ``factor``."""
    return df.withColumn("value", F.col("id") * F.lit(factor))


def label_parity(df: DataFrame) -> DataFrame:
    """``df`` with ``parity``: ``even`` or ``odd`` of ``id``."""
    return df.withColumn("parity", F.when(F.col("id") % 2 == 0, F.lit("even")).otherwise(F.lit("odd")))


def summarise(df: DataFrame) -> tuple[int, int]:
    """(number of rows, sum of ``value``) of ``df``."""
    row = df.agg(F.count(F.lit(1)).alias("rows"), F.sum("value").alias("total")).collect()[0]
    return int(row["rows"]), int(row["total"] or 0)
