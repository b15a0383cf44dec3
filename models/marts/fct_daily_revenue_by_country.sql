-- Analytics mart: built on the analyst audience models (masked, erasure-filtered).
-- Revenue is summed in the payments' own currency: each country pays in one
-- currency, which the grain test (one row per day and country) enforces.
with payments as (

    select
        user_id,
        amount,
        currency as currency_code,
        paid_at
    from {{ ref('analyst__payments') }}

),

purchase_events as (

    select
        user_id,
        event_ts as event_at
    from {{ ref('analyst__events') }}
    where event_type = 'purchase'

),

users as (

    select
        user_id,
        country as country_code
    from {{ ref('analyst__users') }}

),

daily_payments as (

    select
        cast(payments.paid_at as date) as revenue_date,
        users.country_code,
        payments.currency_code,
        sum(payments.amount) as revenue,
        count(*) as payments_count
    from payments
    inner join users
        on payments.user_id = users.user_id
    group by 1, 2, 3

),

daily_purchase_events as (

    select
        cast(purchase_events.event_at as date) as revenue_date,
        users.country_code,
        count(*) as purchase_events_count
    from purchase_events
    inner join users
        on purchase_events.user_id = users.user_id
    group by 1, 2

)

select
    coalesce(daily_payments.revenue_date, daily_purchase_events.revenue_date) as revenue_date,
    coalesce(daily_payments.country_code, daily_purchase_events.country_code) as country_code,
    daily_payments.currency_code,
    coalesce(daily_payments.revenue, 0) as revenue,
    coalesce(daily_payments.payments_count, 0) as payments_count,
    coalesce(daily_purchase_events.purchase_events_count, 0) as purchase_events_count
from daily_payments
full outer join daily_purchase_events
    on daily_payments.revenue_date = daily_purchase_events.revenue_date
    and daily_payments.country_code = daily_purchase_events.country_code
