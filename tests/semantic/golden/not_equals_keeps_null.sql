SELECT
  "t2"."k0",
  COALESCE("t2"."sales__count", 0) AS "o0",
  COALESCE("t2"."sales__total", 0) AS "o1"
FROM (
  SELECT
    "t1"."k0",
    COUNT("t1"."sales__count") AS "sales__count",
    SUM("t1"."sales__total") AS "sales__total"
  FROM (
    SELECT
      "t0"."sales__d__account" AS "k0",
      1 AS "sales__count",
      "t0"."sales__m__total" AS "sales__total"
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
    WHERE
      (
        "t0"."sales__d__channel" <> 'web'
      ) OR (
        "t0"."sales__d__channel" IS NULL
      )
  ) AS "t1"
  GROUP BY
    1
) AS "t2"
ORDER BY
  "t2"."k0" ASC
LIMIT 10001
