SELECT
  *
FROM (
  SELECT
    "t17"."k0",
    "t17"."o0",
    "t18"."p_o0" AS "o0_previous",
    "t17"."o0" - "t18"."p_o0" AS "o0_delta",
    (
      "t17"."o0" - "t18"."p_o0"
    ) / NULLIF(ABS("t18"."p_o0"), 0.0) AS "o0_percent_change"
  FROM (
    SELECT
      "t13"."k0",
      COALESCE("t13"."sales__total", 0) AS "o0"
    FROM (
      SELECT
        "t3"."k0",
        "t11"."r_k0",
        "t11"."sales__total"
      FROM "ibis_memtable" AS "t3"
      LEFT OUTER JOIN (
        SELECT
          "t7"."k0" AS "r_k0",
          "t7"."sales__total"
        FROM (
          SELECT
            "t5"."k0",
            SUM("t5"."sales__total") AS "sales__total"
          FROM (
            SELECT
              CAST(DATE_TRUNC('QUARTER', "t2"."sales__d__day") AS DATE) AS "k0",
              "t2"."sales__m__total" AS "sales__total"
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
            ) AS "t2"
            WHERE
              "t2"."sales__d__day" >= MAKE_TIMESTAMP(2024, 4, 1, 0, 0, 0.0)
              AND "t2"."sales__d__day" < MAKE_TIMESTAMP(2024, 7, 1, 0, 0, 0.0)
          ) AS "t5"
          GROUP BY
            1
        ) AS "t7"
      ) AS "t11"
        ON "t3"."k0" IS NOT DISTINCT FROM "t11"."r_k0"
    ) AS "t13"
  ) AS "t17"
  LEFT OUTER JOIN (
    SELECT
      "t14"."k0" + INTERVAL '3' MONTH AS "p_k0",
      COALESCE("t14"."sales__total", 0) AS "p_o0"
    FROM (
      SELECT
        "t4"."k0",
        "t12"."r_k0",
        "t12"."sales__total"
      FROM "ibis_memtable" AS "t4"
      LEFT OUTER JOIN (
        SELECT
          "t8"."k0" AS "r_k0",
          "t8"."sales__total"
        FROM (
          SELECT
            "t6"."k0",
            SUM("t6"."sales__total") AS "sales__total"
          FROM (
            SELECT
              CAST(DATE_TRUNC('QUARTER', "t2"."sales__d__day") AS DATE) AS "k0",
              "t2"."sales__m__total" AS "sales__total"
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
            ) AS "t2"
            WHERE
              "t2"."sales__d__day" >= MAKE_TIMESTAMP(2024, 1, 1, 0, 0, 0.0)
              AND "t2"."sales__d__day" < MAKE_TIMESTAMP(2024, 4, 1, 0, 0, 0.0)
          ) AS "t6"
          GROUP BY
            1
        ) AS "t8"
      ) AS "t12"
        ON "t4"."k0" IS NOT DISTINCT FROM "t12"."r_k0"
    ) AS "t14"
  ) AS "t18"
    ON "t17"."k0" IS NOT DISTINCT FROM "t18"."p_k0"
) AS "t19"
ORDER BY
  "t19"."k0" ASC
LIMIT 10001
