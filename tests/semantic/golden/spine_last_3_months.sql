SELECT
  "t7"."k0",
  COALESCE("t7"."sales__total", 0) / NULLIF(CAST(COALESCE("t7"."sales__count", 0) AS DOUBLE), 0.0) AS "o0",
  COALESCE("t7"."sales__total", 0) AS "o1"
FROM (
  SELECT
    "t2"."k0",
    "t6"."r_k0",
    "t6"."sales__total",
    "t6"."sales__count"
  FROM "ibis_memtable" AS "t2"
  LEFT OUTER JOIN (
    SELECT
      "t4"."k0" AS "r_k0",
      "t4"."sales__total",
      "t4"."sales__count"
    FROM (
      SELECT
        "t3"."k0",
        SUM("t3"."sales__total") AS "sales__total",
        COUNT("t3"."sales__count") AS "sales__count"
      FROM (
        SELECT
          CAST(DATE_TRUNC('MONTH', "t1"."sales__d__day") AS DATE) AS "k0",
          "t1"."sales__m__total" AS "sales__total",
          1 AS "sales__count"
        FROM (
          SELECT
            id AS "sales__d__id",
            account AS "sales__d__account",
            day AS "sales__d__day",
            amount AS "sales__d__amount",
            channel AS "sales__d__channel",
            note AS "sales__d__note",
            amount >= 40 AS "sales__d__big",
            1 AS "sales__m__count",
            amount AS "sales__m__total",
            amount AS "sales__m__avg_amount",
            amount AS "sales__m__max_amount",
            amount AS "sales__m__min_amount",
            amount AS "sales__m__median_amount",
            amount AS "sales__m__web_total",
            (
              (
                channel = 'web'
              )
            ) AS "sales__f__web_total",
            account AS "sales__m__accounts"
          FROM "t_sales" AS "sales"
        ) AS "t1"
        WHERE
          "t1"."sales__d__day" >= MAKE_TIMESTAMP(2024, 4, 1, 0, 0, 0.0)
          AND "t1"."sales__d__day" < MAKE_TIMESTAMP(2024, 7, 1, 0, 0, 0.0)
      ) AS "t3"
      GROUP BY
        1
    ) AS "t4"
  ) AS "t6"
    ON "t2"."k0" IS NOT DISTINCT FROM "t6"."r_k0"
) AS "t7"
ORDER BY
  "t7"."k0" ASC
LIMIT 10001
