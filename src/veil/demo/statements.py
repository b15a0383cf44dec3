"""One ``CREATE OR REPLACE TABLE ... AS SELECT`` per synthetic table.

Every random choice is ``hash(hash(<row>, $seed, '<salt>'))``: a pure function
of the row, the seed and a salt naming the choice, so a table comes out the
same whatever the thread count. ``... / 2^64`` makes it a uniform draw in
[0, 1). The outer ``hash`` matters: DuckDB combines the hashes of several
arguments by multiply-and-XOR, so ``hash(i, 42, 'a')`` and ``hash(i, 42, 'b')``
differ by little more than a constant and are almost perfectly correlated
(r = -0.998 over a million rows); hashing the result again decorrelates them.

Timestamps are whole seconds in ``[$start_s, $start_s + $span_s)``, the three
years before ``as_of``. ``{schema}`` is a quoted identifier; every other input
is a named prepared-statement parameter.

Tables are built in the order of :data:`STATEMENTS`: later ones read
``users`` for the created_at and country of the user they belong to.
"""

from __future__ import annotations

USERS = """
CREATE OR REPLACE TABLE {schema}.users AS
WITH drawn AS (
    SELECT
        i + 1 AS user_id,
        list_element($first_names, 1 + (hash(hash(i, $seed, 'first-name')) % len($first_names))::INTEGER) AS first_name,
        list_element($last_names, 1 + (hash(hash(i, $seed, 'last-name')) % len($last_names))::INTEGER) AS last_name,
        list_element($email_domains, 1 + (hash(hash(i, $seed, 'email-domain')) % 100)::INTEGER) AS email_domain,
        hash(hash(i, $seed, 'email-shape')) % 4 AS email_shape,
        hash(hash(i, $seed, 'email-noise')) % 100 AS email_noise,
        hash(hash(i, $seed, 'phone-shape')) % 100 AS phone_shape,
        200 + hash(hash(i, $seed, 'phone-area')) % 800 AS phone_area,
        100 + hash(hash(i, $seed, 'phone-line')) % 100 AS phone_line,
        1 + hash(hash(i, $seed, 'ssn-area')) % 899 AS ssn_area,
        1 + hash(hash(i, $seed, 'ssn-group')) % 99 AS ssn_group,
        1 + hash(hash(i, $seed, 'ssn-serial')) % 9999 AS ssn_serial,
        hash(hash(i, $seed, 'birth')) / 18446744073709551616.0 AS birth_draw,
        hash(hash(i, $seed, 'zip')) AS zip_hash,
        list_element($genders, 1 + (hash(hash(i, $seed, 'gender')) % 100)::INTEGER) AS gender,
        list_element($countries, 1 + (hash(hash(i, $seed, 'country')) % 100)::INTEGER) AS country,
        hash(hash(i, $seed, 'created')) / 18446744073709551616.0 AS created_draw
    FROM range($users) AS r(i)
),

shaped AS (
    SELECT
        user_id,
        first_name,
        last_name,
        email_domain,
        email_shape,
        email_noise,
        phone_shape,
        phone_area,
        phone_line,
        ssn_area,
        ssn_group,
        ssn_serial,
        birth_draw,
        zip_hash,
        gender,
        country,
        created_draw,
        -- letters only, so the trailing user_id keeps every address unique
        regexp_replace(strip_accents(first_name), '[^A-Za-z]', '', 'g') AS first_ascii,
        regexp_replace(strip_accents(last_name), '[^A-Za-z]', '', 'g') AS last_ascii
    FROM drawn
),

addressed AS (
    SELECT
        user_id,
        first_name,
        last_name,
        email_domain,
        email_noise,
        phone_shape,
        phone_area,
        phone_line,
        ssn_area,
        ssn_group,
        ssn_serial,
        birth_draw,
        zip_hash,
        gender,
        country,
        created_draw,
        CASE email_shape
            WHEN 0 THEN first_ascii || '.' || last_ascii
            WHEN 1 THEN left(first_ascii, 1) || last_ascii
            WHEN 2 THEN first_ascii || '_' || last_ascii
            ELSE first_ascii
        END || user_id::VARCHAR AS email_local
    FROM shaped
)

SELECT
    user_id,
    first_name || ' ' || last_name AS name,
    -- a few addresses keep their capitals or gained spaces, as typed into a form
    CASE
        WHEN email_noise < 3 THEN email_local || '@' || email_domain
        WHEN email_noise < 4 THEN lower(email_local) || '@' || upper(email_domain)
        WHEN email_noise < 6 THEN ' ' || lower(email_local) || '@' || email_domain || ' '
        ELSE lower(email_local) || '@' || email_domain
    END AS email,
    -- 555-0100..0199 is reserved for fiction in the North American plan
    CASE
        WHEN phone_shape < 60 THEN printf('+1-%d-555-0%d', phone_area, phone_line)
        WHEN phone_shape < 75 THEN printf('(%d) 555-0%d', phone_area, phone_line)
        WHEN phone_shape < 85 THEN printf('%d.555.0%d', phone_area, phone_line)
        WHEN phone_shape < 95 THEN printf('+1%d5550%d', phone_area, phone_line)
    END AS phone,
    -- area 666 was never issued
    printf('%03d-%02d-%04d', CASE WHEN ssn_area = 666 THEN 667 ELSE ssn_area END, ssn_group, ssn_serial) AS ssn,
    -- skewed young: most customers are far from the oldest allowed age
    ($birth_latest::DATE - floor(pow(birth_draw, 1.5) * $birth_days)::INTEGER) AS birth_date,
    CASE
        WHEN zip_hash % 100 < 4
            THEN list_element($restricted_zip3, 1 + ((zip_hash >> 8) % len($restricted_zip3))::INTEGER)
                || lpad(((zip_hash >> 16) % 100)::VARCHAR, 2, '0')
        ELSE lpad((501 + (zip_hash >> 8) % 99450)::VARCHAR, 5, '0')
    END AS zip,
    gender,
    country,
    -- sqrt: sign-ups grow over time, as at a young company
    make_timestamp(($start_s + floor(sqrt(created_draw) * $span_s)::BIGINT) * 1000000) AS created_at
FROM addressed
ORDER BY user_id
"""

EVENTS = """
CREATE OR REPLACE TABLE {schema}.events AS
WITH user_devices AS (
    -- each user owns up to 3 devices and 4 addresses, reused across events;
    -- formatted once per user, not once per event
    SELECT
        users.user_id,
        slots.slot AS device_slot,
        'dev-' || printf('%012x', hash(hash(users.user_id, slots.slot, $seed, 'device')) >> 16) AS device_id
    FROM {schema}.users AS users
    CROSS JOIN range(3) AS slots(slot)
),

ip_draws AS (
    SELECT
        users.user_id,
        slots.slot AS ip_slot,
        hash(hash(users.user_id, slots.slot, $seed, 'ip')) AS ip_hash,
        hash(hash(users.user_id, slots.slot, $seed, 'ip6')) AS ip6_hash,
        hash(hash(users.user_id, slots.slot, $seed, 'ip6-form')) % 4 AS ip6_form
    FROM {schema}.users AS users
    CROSS JOIN range(4) AS slots(slot)
),

ip_groups AS (
    SELECT
        user_id,
        ip_slot,
        ip_hash,
        ip6_form,
        list_element($ipv6_prefixes, 1 + ((ip_hash >> 8) % len($ipv6_prefixes))::INTEGER) AS g1,
        (ip_hash >> 16) & 65535 AS g2,
        (ip_hash >> 32) & 65535 AS g3,
        (ip_hash >> 48) & 65535 AS g4,
        ip6_hash & 65535 AS g5,
        (ip6_hash >> 16) & 65535 AS g6,
        (ip6_hash >> 32) & 65535 AS g7,
        (ip6_hash >> 48) & 65535 AS g8
    FROM ip_draws
),

user_ips AS (
    SELECT
        user_id,
        ip_slot,
        CASE
            WHEN ip_hash % 100 < 80 THEN printf(
                '%d.%d.%d.%d',
                1 + (ip_hash >> 8) % 223, (ip_hash >> 16) % 256, (ip_hash >> 24) % 256, 1 + (ip_hash >> 32) % 254
            )
            -- the same kind of address written four ways: full, compressed,
            -- upper case, and without leading zeros
            WHEN ip6_form = 0 THEN printf('%s:%04x:%04x:%04x:%04x:%04x:%04x:%04x', g1, g2, g3, g4, g5, g6, g7, g8)
            WHEN ip6_form = 1 THEN printf('%s:%x:%x::%x:%x:%x', g1, g2, g3, g6, g7, g8)
            WHEN ip6_form = 2
                THEN upper(printf('%s:%04x:%04x:%04x:%04x:%04x:%04x:%04x', g1, g2, g3, g4, g5, g6, g7, g8))
            ELSE printf('%s:%x:%x:%x:%x:%x:%x:%x', g1, g2, g3, g4, g5, g6, g7, g8)
        END AS ip_address
    FROM ip_groups
),

ranked AS (
    SELECT
        i,
        i + 1 AS event_id,
        -- activity rank r has density ~ 1/sqrt(r): the top 1% of users make
        -- about a tenth of all events; the stride permutes ranks over users
        1 + (floor($users * pow(hash(hash(i, $seed, 'event-rank')) / 18446744073709551616.0, 2))::BIGINT
            * $user_stride + $user_offset) % $users AS user_id
    FROM range($events) AS r(i)
),

picked AS (
    SELECT
        i,
        event_id,
        user_id,
        -- a user's 1-3 devices and 1-4 addresses are the first of their slots
        hash(hash(i, $seed, 'device-pick')) % (1 + hash(hash(user_id, $seed, 'devices')) % 3) AS device_slot,
        hash(hash(i, $seed, 'ip-pick')) % (1 + hash(hash(user_id, $seed, 'ips')) % 4) AS ip_slot,
        list_element($event_types, 1 + (hash(hash(i, $seed, 'event-type')) % 100)::INTEGER) AS event_type
    FROM ranked
)

SELECT
    picked.event_id,
    picked.user_id,
    user_devices.device_id,
    user_ips.ip_address,
    picked.event_type,
    CASE
        WHEN picked.event_type = 'purchase'
            -- log-uniform between 5 and 500
            THEN round(
                5 * pow(100, hash(hash(picked.i, $seed, 'event-amount')) / 18446744073709551616.0), 2
            )::DECIMAL(12, 2)
    END AS amount,
    -- never before the user signed up
    make_timestamp((
        epoch_us(users.created_at) // 1000000
        + floor(
            hash(hash(picked.i, $seed, 'event-at')) / 18446744073709551616.0
            * ($start_s + $span_s - epoch_us(users.created_at) // 1000000)
        )::BIGINT
    ) * 1000000) AS event_ts
FROM picked
INNER JOIN {schema}.users AS users
    ON picked.user_id = users.user_id
INNER JOIN user_devices
    ON picked.user_id = user_devices.user_id AND picked.device_slot = user_devices.device_slot
INNER JOIN user_ips
    ON picked.user_id = user_ips.user_id AND picked.ip_slot = user_ips.ip_slot
ORDER BY picked.event_id
"""

PAYMENTS = """
CREATE OR REPLACE TABLE {schema}.payments AS
WITH picked AS (
    SELECT
        i,
        i + 1 AS payment_id,
        -- the same ranking as events, flatter: active users also pay more
        1 + (floor($users * pow(hash(hash(i, $seed, 'payment-rank')) / 18446744073709551616.0, 1.5))::BIGINT
            * $user_stride + $user_offset) % $users AS user_id
    FROM range($payments) AS r(i)
),

carded AS (
    SELECT
        picked.i,
        picked.payment_id,
        picked.user_id,
        users.country,
        epoch_us(users.created_at) // 1000000 AS created_s,
        -- each user pays with one or two cards
        hash(hash(
            picked.user_id,
            hash(hash(picked.i, $seed, 'card-pick')) % (1 + hash(hash(picked.user_id, $seed, 'cards')) % 2),
            $seed,
            'card'
        )) AS card_hash
    FROM picked
    INNER JOIN {schema}.users AS users ON picked.user_id = users.user_id
),

payloads AS (
    SELECT
        i,
        payment_id,
        user_id,
        country,
        created_s,
        -- 15 digits: Visa 4 + 14, or Mastercard 51-55 + 13
        CASE
            WHEN card_hash % 10 < 6 THEN '4' || lpad(((card_hash // 10) % 100000000000000)::VARCHAR, 14, '0')
            ELSE '5' || (1 + (card_hash // 10) % 5)::VARCHAR
                || lpad(((card_hash // 100) % 10000000000000)::VARCHAR, 13, '0')
        END AS card_payload
    FROM carded
),

luhn AS (
    SELECT
        i,
        payment_id,
        user_id,
        country,
        created_s,
        card_payload,
        -- Luhn: with the check digit appended, the payload's 1st, 3rd, ...
        -- 15th digits are the doubled ones (a doubled digit over 9 loses 9)
        list_sum(list_transform(
            list_transform(range(1, 16), lambda k: substr(card_payload, k, 1)::INTEGER),
            lambda d, k: CASE WHEN k % 2 = 1 THEN 2 * d - CASE WHEN d >= 5 THEN 9 ELSE 0 END ELSE d END
        )) AS luhn_sum
    FROM payloads
)

SELECT
    payment_id,
    user_id,
    card_payload || ((10 - luhn_sum % 10) % 10)::VARCHAR AS card_number,
    -- log-uniform between 1 and 2000
    round(pow(2000, hash(hash(i, $seed, 'payment-amount')) / 18446744073709551616.0), 2)::DECIMAL(12, 2) AS amount,
    list_element($currencies, list_position($country_codes, country)) AS currency,
    make_timestamp(
        (created_s + floor(
            hash(hash(i, $seed, 'paid-at')) / 18446744073709551616.0 * ($start_s + $span_s - created_s)
        )::BIGINT) * 1000000
    ) AS paid_at
FROM luhn
ORDER BY payment_id
"""

CONSENT_EVENTS = """
CREATE OR REPLACE TABLE {schema}.consent_events AS
WITH pairs AS (
    -- one (user, purpose) pair per j; many have no decision at all
    SELECT
        j,
        j // len($purposes) + 1 AS user_id,
        (j % len($purposes))::INTEGER + 1 AS purpose_index,
        list_element($decision_counts, 1 + (hash(hash(j, $seed, 'consent-count')) % 100)::INTEGER) AS decisions,
        hash(hash(j, $seed, 'consent-first')) % 100 AS first_roll,
        -- a grant and a denial recorded in the same second
        hash(hash(j, $seed, 'consent-tie')) % 100 < 2 AS has_tie
    FROM range($users * len($purposes)) AS r(j)
),

decisions AS (
    SELECT
        pairs.j,
        pairs.user_id,
        pairs.purpose_index,
        pairs.decisions,
        pairs.first_roll,
        pairs.has_tie,
        unnest(range(pairs.decisions)) AS k
    FROM pairs
),

flipped AS (
    SELECT
        decisions.j,
        decisions.user_id,
        decisions.purpose_index,
        decisions.decisions,
        decisions.k,
        decisions.first_roll < list_element($grant_percent, decisions.purpose_index) AS first_granted,
        decisions.has_tie AND decisions.k = 1 AS is_tie,
        -- each later decision usually reverses the one before (withdraw,
        -- re-grant), sometimes repeats it
        sum(CASE
            WHEN decisions.k = 0 THEN 0
            WHEN decisions.has_tie AND decisions.k = 1 THEN 1
            WHEN hash(hash(decisions.j, decisions.k, $seed, 'consent-flip')) % 100 < 80 THEN 1
            ELSE 0
        END) OVER (PARTITION BY decisions.j ORDER BY decisions.k) AS flips,
        epoch_us(users.created_at) // 1000000 AS created_s
    FROM decisions
    INNER JOIN {schema}.users AS users ON decisions.user_id = users.user_id
),

timed AS (
    SELECT
        user_id,
        purpose_index,
        k,
        first_granted,
        flips,
        -- decision k falls in the k-th of `decisions` equal slices of the
        -- user's lifetime, so decisions stay in order; a tie reuses slice 0
        make_timestamp((created_s + floor(
            ((CASE WHEN is_tie THEN 0 ELSE k END)
                + hash(hash(j, CASE WHEN is_tie THEN 0 ELSE k END, $seed, 'consent-at')) / 18446744073709551616.0)
            / decisions * ($start_s + $span_s - created_s)
        )::BIGINT) * 1000000) AS recorded_at
    FROM flipped
)

SELECT
    row_number() OVER (ORDER BY recorded_at, user_id, purpose_index, k) AS consent_id,
    user_id,
    list_element($purposes, purpose_index) AS purpose,
    first_granted != (flips % 2 = 1) AS granted,
    recorded_at
FROM timed
ORDER BY consent_id
"""

DELETION_REQUESTS = """
CREATE OR REPLACE TABLE {schema}.deletion_requests AS
WITH chosen AS (
    SELECT
        user_id,
        country,
        epoch_us(created_at) // 1000000 AS created_s
    FROM {schema}.users
    ORDER BY hash(hash(user_id, $seed, 'erasure')), user_id
    LIMIT $erasures
),

requested AS (
    SELECT
        user_id,
        country,
        make_timestamp((created_s + floor(
            hash(hash(user_id, $seed, 'erasure-at')) / 18446744073709551616.0 * ($start_s + $span_s - created_s)
        )::BIGINT) * 1000000) AS requested_at
    FROM chosen
)

SELECT
    row_number() OVER (ORDER BY requested_at, user_id) AS request_id,
    user_id,
    requested_at,
    CASE WHEN country = 'US' THEN 'CCPA' ELSE 'GDPR' END AS regulation
FROM requested
ORDER BY request_id
"""

#: Table name and statement, in the order they must run.
STATEMENTS: tuple[tuple[str, str], ...] = (
    ("users", USERS),
    ("events", EVENTS),
    ("payments", PAYMENTS),
    ("consent_events", CONSENT_EVENTS),
    ("deletion_requests", DELETION_REQUESTS),
)
