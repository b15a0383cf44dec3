{#-
  veil's generic privacy tests. Each returns the rows that break a privacy
  claim, so `dbt test` passes when it returns none and names the rows when not.
  They recompute what they check from the source relations, independently of
  the filters and masks in the model, so a wrong model fails its test.
-#}

{% test veil_no_raw_values(model, source_relation, source_columns, model_columns) %}
{#- No value of a masked or dropped direct-PII source column, as is or trimmed
    and lower-cased, appears in any column of the model. -#}
with raw_values as (
    {%- for source_column in source_columns %}
    select distinct cast({{ source_column }} as {{ dbt.type_string() }}) as raw_value,
           '{{ source_column }}' as source_column
    from {{ source_relation }}
    where {{ source_column }} is not null
    union
    select distinct lower(trim(cast({{ source_column }} as {{ dbt.type_string() }}))),
           '{{ source_column }}'
    from {{ source_relation }}
    where {{ source_column }} is not null
    {%- if not loop.last %}
    union
    {%- endif %}
    {%- endfor %}
),

model_values as (
    {%- for model_column in model_columns %}
    select cast({{ model_column }} as {{ dbt.type_string() }}) as model_value,
           '{{ model_column }}' as model_column
    from {{ model }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select model_values.model_column, raw_values.source_column, model_values.model_value
from model_values
join raw_values on model_values.model_value = raw_values.raw_value
{% endtest %}


{% test veil_not_erased(model, column_name, erasure_relation, erasure_subject) %}
{#- No subject of the erasure registry has a row in the model. -#}
select {{ column_name }} as erased_subject
from {{ model }}
where {{ column_name }} in (
    select {{ erasure_subject }}
    from {{ erasure_relation }}
    where {{ erasure_subject }} is not null
)
{% endtest %}


{% test veil_consented(model, column_name, consent_relation, consent_subject, consent_purpose, consent_granted, consent_recorded_at, purposes, mode) %}
{#- No row of a subject whose consent for the model's purpose forbids it.
    `purposes` is the purpose and its parents, most specific first. The state
    is recomputed from the raw decisions, differently from the filter: the
    latest time per (subject, purpose), then every decision at that time must
    grant (a tie denies), then the most specific purpose decided wins. -#}
with decisions as (
    select {{ consent_subject }} as subject, {{ consent_purpose }} as purpose,
           {{ consent_granted }} as granted, {{ consent_recorded_at }} as recorded_at
    from {{ consent_relation }}
    where {{ consent_purpose }} in ({% for p in purposes %}'{{ p }}'{% if not loop.last %}, {% endif %}{% endfor %})
      and {{ consent_subject }} is not null
      and {{ consent_recorded_at }} is not null
),

latest as (
    select subject, purpose, max(recorded_at) as recorded_at
    from decisions
    group by subject, purpose
),

state as (
    select latest.subject, latest.purpose,
           min(case when decisions.granted then 1 else 0 end) = 1 as granted
    from latest
    join decisions
      on decisions.subject = latest.subject
     and decisions.purpose = latest.purpose
     and decisions.recorded_at = latest.recorded_at
    group by latest.subject, latest.purpose
),

effective as (
    select state.subject, state.granted
    from state
    where not exists (
        select 1 from state as more_specific
        where more_specific.subject = state.subject
          and length(more_specific.purpose) > length(state.purpose)
    )
)

select {{ column_name }} as subject_without_consent
from {{ model }}
{%- if mode == 'opt_in' %}
where {{ column_name }} is null
   or {{ column_name }} not in (select subject from effective where granted)
{%- else %}
where {{ column_name }} in (select subject from effective where not granted)
{%- endif %}
{% endtest %}


{% test veil_within_retention(model, event_time, retention_days=none, expiring_columns=none) %}
{#- No row older than the table's retention, and no value of an expiring
    column older than the column's own retention. -#}
select {{ event_time }} as expired_event_time
from {{ model }}
where false
{%- if retention_days is not none %}
   or {{ event_time }} is null
   or {{ event_time }} < cast({{ veil_as_of() }} as timestamp) - interval '{{ retention_days }}' day
{%- endif %}
{%- for column in (expiring_columns or []) %}
   or ({{ column.name }} is not null
       and ({{ event_time }} is null
            or {{ event_time }} < cast({{ veil_as_of() }} as timestamp) - interval '{{ column.days }}' day))
{%- endfor %}
{% endtest %}
