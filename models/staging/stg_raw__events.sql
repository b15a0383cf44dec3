with source as (

    select
        event_id,
        user_id,
        device_id,
        ip_address,
        event_type,
        amount,
        event_ts
    from {{ source('raw', 'events') }}

)

select
    cast(event_id as bigint) as event_id,
    cast(user_id as bigint) as user_id,
    device_id,
    ip_address,
    event_type,
    cast(amount as decimal(12, 2)) as purchase_amount,
    cast(event_ts as timestamp) as event_at
from source
