with source as (

    select
        consent_id,
        user_id,
        purpose,
        granted,
        recorded_at
    from {{ source('raw', 'consent_events') }}

)

select
    cast(consent_id as bigint) as consent_id,
    cast(user_id as bigint) as user_id,
    purpose,
    cast(granted as boolean) as is_granted,
    cast(recorded_at as timestamp) as recorded_at
from source
