-- Analytics mart: built on the analyst audience models, so masking, consent,
-- retention and erasure apply here too.
with users as (

    select
        user_id,
        created_at
    from {{ ref('analyst__users') }}

),

events as (

    select
        user_id,
        event_type,
        event_ts as event_at
    from {{ ref('analyst__events') }}

),

activity as (

    select
        user_id,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at,
        count(*) as events_count,
        count(case when event_type = 'purchase' then 1 end) as purchases_count,
        count(distinct cast(event_at as date)) as days_active
    from events
    group by user_id

)

select
    users.user_id,
    users.created_at as signed_up_at,
    activity.first_event_at,
    activity.last_event_at,
    coalesce(activity.events_count, 0) as events_count,
    coalesce(activity.purchases_count, 0) as purchases_count,
    coalesce(activity.days_active, 0) as days_active
from users
left join activity
    on users.user_id = activity.user_id
