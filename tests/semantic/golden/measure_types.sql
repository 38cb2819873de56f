SELECT
  "t2"."k0",
  COALESCE("t2"."sales__accounts", 0) AS "o0",
  "t2"."sales__avg_amount" AS "o1",
  "t2"."sales__max_amount" AS "o2",
  "t2"."sales__median_amount" AS "o3",
  "t2"."sales__min_amount" AS "o4"
FROM (
  SELECT
    "t1"."k0",
    COUNT(DISTINCT "t1"."sales__accounts") AS "sales__accounts",
    AVG("t1"."sales__avg_amount") AS "sales__avg_amount",
    MAX("t1"."sales__max_amount") AS "sales__max_amount",
    QUANTILE_CONT("t1"."sales__median_amount", 0.5) AS "sales__median_amount",
    MIN("t1"."sales__min_amount") AS "sales__min_amount"
  FROM (
    SELECT
      "t0"."sales__d__account" AS "k0",
      "t0"."sales__m__accounts" AS "sales__accounts",
      "t0"."sales__m__avg_amount" AS "sales__avg_amount",
      "t0"."sales__m__max_amount" AS "sales__max_amount",
      "t0"."sales__m__median_amount" AS "sales__median_amount",
      "t0"."sales__m__min_amount" AS "sales__min_amount"
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
    ) AS "t0"
  ) AS "t1"
  GROUP BY
    1
) AS "t2"
ORDER BY
  "t2"."k0" ASC
LIMIT 10001
