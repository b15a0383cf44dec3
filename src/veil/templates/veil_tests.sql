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
