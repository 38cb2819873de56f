WITH "t8" AS (
  SELECT
    "t6"."k0",
    COUNT("t6"."customers__count") AS "customers__count"
  FROM (
    SELECT
      "t1"."customers__d__segment" AS "k0",
      1 AS "customers__count"
    FROM (
      SELECT
        customer_id AS "customers__d__customer_id",
        name AS "customers__d__name",
        segment AS "customers__d__segment",
        industry AS "customers__d__industry",
        region AS "customers__d__region",
        plan AS "customers__d__plan",
        acquisition_channel AS "customers__d__acquisition_channel",
        acquisition_channel AS "customers__d__channel",
        signup_date AS "customers__d__signup_date",
        email AS "customers__d__email",
        phone AS "customers__d__phone",
        domain AS "customers__d__domain",
        source_systems AS "customers__d__source_systems",
        1 AS "customers__m__count",
        source_records AS "customers__m__source_records"
      FROM "dim_customers" AS "customers"
    ) AS "t1"
  ) AS "t6"
  GROUP BY
    1
), "t11" AS (
  SELECT
    "t7"."k0",
    SUM("t7"."transactions__revenue") AS "transactions__revenue"
  FROM (
    SELECT
      "t4"."customers__d__segment" AS "k0",
      CASE
        WHEN "t3"."transactions__f__revenue"
        THEN "t3"."transactions__m__revenue"
        ELSE CAST(NULL AS DOUBLE)
      END AS "transactions__revenue"
    FROM (
      SELECT
        transaction_id AS "transactions__d__transaction_id",
        resolved_customer_id AS "transactions__d__customer_id",
        created_at AS "transactions__d__created_at",
        type AS "transactions__d__type",
        status AS "transactions__d__status",
        payment_method AS "transactions__d__payment_method",
        currency AS "transactions__d__currency",
        1 AS "transactions__m__count",
        CASE WHEN type = 'refund' THEN -amount ELSE amount END AS "transactions__m__revenue",
        (
          (
            status = 'processed'
          )
        ) AS "transactions__f__revenue",
        1 AS "transactions__m__orders",
        (
          (
            status = 'processed' AND type = 'payment'
          )
        ) AS "transactions__f__orders",
        1 AS "transactions__m__failed_payments",
        (
          (
            status = 'failed'
          )
        ) AS "transactions__f__failed_payments",
        resolved_customer_id AS "transactions__m__customers"
      FROM (
        SELECT
          a.*,
          COALESCE(i.customer_id, a.customer_id) AS resolved_customer_id
        FROM "src_transactions" AS a
        LEFT JOIN "customer_identity" AS i
          ON i.source_customer_id = a.customer_id
      ) AS "transactions"
    ) AS "t3"
    LEFT OUTER JOIN (
      SELECT
        customer_id AS "customers__d__customer_id",
        name AS "customers__d__name",
        segment AS "customers__d__segment",
        industry AS "customers__d__industry",
        region AS "customers__d__region",
        plan AS "customers__d__plan",
        acquisition_channel AS "customers__d__acquisition_channel",
        acquisition_channel AS "customers__d__channel",
        signup_date AS "customers__d__signup_date",
        email AS "customers__d__email",
        phone AS "customers__d__phone",
        domain AS "customers__d__domain",
        source_systems AS "customers__d__source_systems",
        1 AS "customers__m__count",
        source_records AS "customers__m__source_records"
      FROM "dim_customers" AS "customers"
    ) AS "t4"
      ON "t3"."transactions__d__customer_id" = "t4"."customers__d__customer_id"
  ) AS "t7"
  GROUP BY
    1
), "t14" AS (
  SELECT
    "t9"."k0",
    COUNT("t9"."tickets__count") AS "tickets__count"
  FROM (
    SELECT
      "t4"."customers__d__segment" AS "k0",
      1 AS "tickets__count"
    FROM (
      SELECT
        ticket_id AS "tickets__d__ticket_id",
        resolved_customer_id AS "tickets__d__customer_id",
        opened_at AS "tickets__d__opened_at",
        resolved_at AS "tickets__d__resolved_at",
        1 AS "tickets__m__count",
        1 AS "tickets__m__open",
        (
          (
            resolved_at IS NULL
          )
        ) AS "tickets__f__open",
        sentiment AS "tickets__m__avg_sentiment",
        csat AS "tickets__m__avg_csat",
        (
          EPOCH(resolved_at) - EPOCH(opened_at)
        ) / 3600.0 AS "tickets__m__avg_resolution_hours",
        resolved_customer_id AS "tickets__m__customers"
      FROM (
        SELECT
          a.*,
          COALESCE(i.customer_id, a.customer_id) AS resolved_customer_id
        FROM "src_support_tickets" AS a
        LEFT JOIN "customer_identity" AS i
          ON i.source_customer_id = a.customer_id
      ) AS "tickets"
    ) AS "t5"
    LEFT OUTER JOIN (
      SELECT
        customer_id AS "customers__d__customer_id",
        name AS "customers__d__name",
        segment AS "customers__d__segment",
        industry AS "customers__d__industry",
        region AS "customers__d__region",
        plan AS "customers__d__plan",
        acquisition_channel AS "customers__d__acquisition_channel",
        acquisition_channel AS "customers__d__channel",
        signup_date AS "customers__d__signup_date",
        email AS "customers__d__email",
        phone AS "customers__d__phone",
        domain AS "customers__d__domain",
        source_systems AS "customers__d__source_systems",
        1 AS "customers__m__count",
        source_records AS "customers__m__source_records"
      FROM "dim_customers" AS "customers"
    ) AS "t4"
      ON "t5"."tickets__d__customer_id" = "t4"."customers__d__customer_id"
  ) AS "t9"
  GROUP BY
    1
)
SELECT
  "t35"."k0",
  COALESCE("t35"."customers__count", 0) AS "o0",
  COALESCE("t35"."tickets__count", 0) AS "o1",
  COALESCE("t35"."transactions__revenue", 0) AS "o2"
FROM (
  SELECT
    "t34".*
    EXCLUDE ("r_k0")
  FROM (
    SELECT
      "t33"."k0",
      "t33"."customers__count",
      "t33"."tickets__count",
      "t22"."r_k0",
      "t22"."transactions__revenue"
    FROM (
      SELECT
        "t31"."k0",
        "t31"."customers__count",
        "t31"."tickets__count"
      FROM (
        SELECT
          "t30"."k0",
          "t30"."customers__count",
          "t24"."r_k0",
          "t24"."tickets__count"
        FROM (
          SELECT
            "t28"."k0",
            "t28"."customers__count"
          FROM (
            SELECT
              "t27"."k0",
              "t16"."r_k0",
              "t16"."customers__count"
            FROM (
              SELECT DISTINCT
                *
              FROM (
                SELECT
                  *
                FROM (
                  SELECT
                    *
                  FROM (
                    SELECT
                      "t10"."k0"
                    FROM "t8" AS "t10"
                  ) AS "t12"
                  UNION ALL
                  SELECT
                    *
                  FROM (
                    SELECT
                      "t17"."k0"
                    FROM "t14" AS "t17"
                  ) AS "t20"
                ) AS "t23"
                UNION ALL
                SELECT
                  *
                FROM (
                  SELECT
                    "t15"."k0"
                  FROM "t11" AS "t15"
                ) AS "t18"
              ) AS "t25"
            ) AS "t27"
            LEFT OUTER JOIN (
              SELECT
                "t10"."k0" AS "r_k0",
                "t10"."customers__count"
              FROM "t8" AS "t10"
            ) AS "t16"
              ON "t27"."k0" IS NOT DISTINCT FROM "t16"."r_k0"
          ) AS "t28"
        ) AS "t30"
        LEFT OUTER JOIN (
          SELECT
            "t17"."k0" AS "r_k0",
            "t17"."tickets__count"
          FROM "t14" AS "t17"
        ) AS "t24"
          ON "t30"."k0" IS NOT DISTINCT FROM "t24"."r_k0"
      ) AS "t31"
    ) AS "t33"
    LEFT OUTER JOIN (
      SELECT
        "t15"."k0" AS "r_k0",
        "t15"."transactions__revenue"
      FROM "t11" AS "t15"
    ) AS "t22"
      ON "t33"."k0" IS NOT DISTINCT FROM "t22"."r_k0"
  ) AS "t34"
) AS "t35"
ORDER BY
  "t35"."k0" ASC
LIMIT 10001
