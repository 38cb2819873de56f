SELECT
  "t6"."k0",
  COALESCE("t6"."accounts__seats", 0) AS "o0"
FROM (
  SELECT
    "t5"."k0",
    SUM(CAST("t5"."accounts__seats" AS DOUBLE)) AS "accounts__seats"
  FROM (
    SELECT DISTINCT
      *
    FROM (
      SELECT
        "t2"."accounts__d__account" AS "__pk",
        "t3"."sales__d__channel" AS "k0",
        "t2"."accounts__m__seats" AS "accounts__seats"
      FROM (
        SELECT
          account AS "accounts__d__account",
          tier AS "accounts__d__tier",
          1 AS "accounts__m__count",
          seats AS "accounts__m__seats"
        FROM "t_accounts" AS "accounts"
      ) AS "t2"
      LEFT OUTER JOIN (
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
      ) AS "t3"
        ON "t2"."accounts__d__account" = "t3"."sales__d__account"
    ) AS "t4"
  ) AS "t5"
  GROUP BY
    1
) AS "t6"
ORDER BY
  "t6"."k0" ASC
LIMIT 10001
