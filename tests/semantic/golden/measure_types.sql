WITH "t2" AS (
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
)
SELECT
  "t9"."k0",
  COALESCE("t9"."sales__accounts", 0) AS "o0",
  "t9"."sales__avg_amount" AS "o1",
  "t9"."sales__max_amount" AS "o2",
  "t9"."sales__median_amount" AS "o3",
  "t9"."sales__min_amount" AS "o4"
FROM (
  SELECT
    "t8".*
    EXCLUDE ("r_k0")
  FROM (
    SELECT
      "t6"."k0",
      "t7"."r_k0",
      "t7"."sales__accounts",
      "t7"."sales__avg_amount",
      "t7"."sales__max_amount",
      "t7"."sales__median_amount",
      "t7"."sales__min_amount"
    FROM (
      SELECT DISTINCT
        "t3"."k0"
      FROM "t2" AS "t3"
    ) AS "t6"
    LEFT OUTER JOIN (
      SELECT
        "t3"."k0" AS "r_k0",
        "t3"."sales__accounts",
        "t3"."sales__avg_amount",
        "t3"."sales__max_amount",
        "t3"."sales__median_amount",
        "t3"."sales__min_amount"
      FROM "t2" AS "t3"
    ) AS "t7"
      ON "t6"."k0" IS NOT DISTINCT FROM "t7"."r_k0"
  ) AS "t8"
) AS "t9"
ORDER BY
  "t9"."k0" ASC
LIMIT 10001
