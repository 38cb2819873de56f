SELECT
  "t8"."k0",
  "t8"."balances__paying" AS "o0",
  "t8"."balances__mrr" AS "o1"
FROM (
  SELECT
    "t2"."k0",
    "t7"."r_k0",
    "t7"."balances__paying",
    "t7"."balances__mrr"
  FROM "ibis_memtable" AS "t2"
  LEFT OUTER JOIN (
    SELECT
      "t5"."k0" AS "r_k0",
      "t5"."balances__paying",
      "t5"."balances__mrr"
    FROM (
      SELECT
        "t4"."k0",
        COUNT(DISTINCT "t4"."balances__paying") AS "balances__paying",
        SUM("t4"."balances__mrr") AS "balances__mrr"
      FROM (
        SELECT
          DATE_TRUNC('QUARTER', "t3"."balances__d__month") AS "k0",
          CASE
            WHEN "t3"."balances__f__paying"
            THEN "t3"."balances__m__paying"
            ELSE CAST(NULL AS TEXT)
          END AS "balances__paying",
          "t3"."balances__m__mrr" AS "balances__mrr"
        FROM (
          SELECT
            "t1"."balances__d__key",
            "t1"."balances__d__account",
            "t1"."balances__d__month",
            "t1"."balances__d__region",
            "t1"."balances__m__mrr",
            "t1"."balances__m__paying",
            "t1"."balances__f__paying",
            MAX("t1"."balances__d__month") OVER (
              PARTITION BY DATE_TRUNC('QUARTER', "t1"."balances__d__month")
              ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
            ) AS "__last"
          FROM (
            SELECT
              account || '|' || CAST(month AS TEXT) AS "balances__d__key",
              account AS "balances__d__account",
              month AS "balances__d__month",
              region AS "balances__d__region",
              mrr AS "balances__m__mrr",
              account AS "balances__m__paying",
              (
                (
                  mrr > 0
                )
              ) AS "balances__f__paying"
            FROM "t_balances" AS "balances"
          ) AS "t1"
        ) AS "t3"
        WHERE
          "t3"."balances__d__month" = "t3"."__last"
      ) AS "t4"
      GROUP BY
        1
    ) AS "t5"
  ) AS "t7"
    ON "t2"."k0" IS NOT DISTINCT FROM "t7"."r_k0"
) AS "t8"
ORDER BY
  "t8"."k0" ASC
LIMIT 10001
