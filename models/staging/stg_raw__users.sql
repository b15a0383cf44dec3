with source as (

    select
        user_id,
        name,
        email,
        phone,
        ssn,
        birth_date,
        zip,
        gender,
        country,
        created_at
    from {{ source('raw', 'users') }}

)

select
    cast(user_id as bigint) as user_id,
    name as full_name,
    email,
    phone,
    ssn,
    cast(birth_date as date) as birth_date,
    zip as zip_code,
    gender,
    country as country_code,
    cast(created_at as timestamp) as created_at
from source
