with source as (

    select
        request_id,
        user_id,
        requested_at,
        regulation
    from {{ source('raw', 'deletion_requests') }}

)

select
    cast(request_id as bigint) as deletion_request_id,
    cast(user_id as bigint) as user_id,
    cast(requested_at as timestamp) as requested_at,
    regulation
from source
