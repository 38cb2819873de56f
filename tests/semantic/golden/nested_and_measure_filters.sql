SELECT
  "t2"."k0",
  COALESCE("t2"."sales__total", 0) AS "o0"
FROM (
  SELECT
    "t1"."k0",
    SUM("t1"."sales__total") AS "sales__total"
  FROM (
    SELECT
      "t0"."sales__d__account" AS "k0",
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
      COALESCE("t0"."sales__d__channel" = 'shop', FALSE)
      OR (
        COALESCE("t0"."sales__d__amount" > 35.0, FALSE)
        AND (
          NOT "t0"."sales__d__note" IS NULL
        )
      )
  ) AS "t1"
  GROUP BY
    1
) AS "t2"
WHERE
  COALESCE(COALESCE("t2"."sales__total", 0) > 40.0, FALSE)
ORDER BY
  "t2"."k0" ASC
LIMIT 10001
