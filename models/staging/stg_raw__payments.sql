with source as (

    select
        payment_id,
        user_id,
        card_number,
        amount,
        currency,
        paid_at
    from {{ source('raw', 'payments') }}

)

select
    cast(payment_id as bigint) as payment_id,
    cast(user_id as bigint) as user_id,
    card_number,
    cast(amount as decimal(12, 2)) as amount,
    currency as currency_code,
    cast(paid_at as timestamp) as paid_at
from source
