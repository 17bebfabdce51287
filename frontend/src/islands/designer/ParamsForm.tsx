// The params form, rendered by rjsf from the node type's JSON Schema. Loaded lazily: the canvas
// draws before this chunk arrives.
import Form from "@rjsf/core";
import type { ErrorSchema, FieldProps, RJSFSchema, WidgetProps } from "@rjsf/utils";
import { useEffect, useRef, useState } from "react";
import { formValidator } from "../../lib/formValidator";
import type { JsonSchema } from "../../lib/nodeKinds";
import { extraErrorsFor, formSchema, paramsChanged, readValue, suggestionsFor, uiSchemaFor, type ProviderChoice } from "../../lib/paramsUi";

/** Free-form values ("any", objects without fields): text is kept as text unless it reads as JSON. */
function JsonField(props: FieldProps) {
  const { formData, onChange, fieldPathId, name, readonly, rawErrors, schema } = props;
  const shown = formData === undefined ? "" : typeof formData === "string" ? formData : JSON.stringify(formData, null, 2);
  const [text, setText] = useState(shown);
  useEffect(() => setText(shown), [shown]);
  const id = fieldPathId.$id;
  return (
    <div className="form-group field dz-json-field">
      <label htmlFor={id}>{schema.title ?? name}</label>
      <p className="muted small">{schema.description ? `${schema.description} · ` : ""}Text, or a JSON value.</p>
      <textarea
        id={id}
        rows={6}
        value={text}
        readOnly={readonly}
        onChange={(event) => {
          setText(event.target.value);
          onChange(readValue(event.target.value), fieldPathId.path);
        }}
      />
      {(rawErrors ?? []).map((message) => (
        <p className="error small" key={message}>
          {message}
        </p>
      ))}
    </div>
  );
}

interface FormContext {
  providers: ProviderChoice[];
  params: Record<string, unknown>;
}

/** Free text with suggestions (provider names, their models), so an unlisted value still works. */
function SuggestWidget({ id, name, value, onChange, readonly, registry }: WidgetProps) {
  const { providers, params } = registry.formContext as FormContext;
  const options = suggestionsFor(name, providers, params);
  return (
    <>
      <input id={id} type="text" list={`${id}-choices`} value={typeof value === "string" ? value : ""} readOnly={readonly} onChange={(event) => onChange(event.target.value || undefined)} />
      <datalist id={`${id}-choices`}>
        {options.map((option) => (
          <option key={option} value={option} />
        ))}
      </datalist>
    </>
  );
}

export interface ParamsFormProps {
  schema: JsonSchema;
  params: Record<string, unknown>;
  fieldProblems: Record<string, string[]> | undefined;
  providers: ProviderChoice[];
  readOnly: boolean;
  onChange: (params: Record<string, unknown>) => void;
}

export default function ParamsForm({ schema, params, fieldProblems, providers, readOnly, onChange }: ParamsFormProps) {
  // rjsf reports a change when it fills in the schema's defaults on first render; that is not an
  // edit (selecting a node must leave the draft saved), so changes count only after the user
  // typed, picked or clicked in the form. Panel remounts the form per node.
  const used = useRef(false);
  const use = () => {
    used.current = true;
  };
  return (
    <div onChangeCapture={use} onInputCapture={use} onClickCapture={(event) => (event.target as HTMLElement).closest("button") && use()}>
      <Form
        schema={formSchema(schema) as RJSFSchema}
        uiSchema={uiSchemaFor(schema, providers)}
        widgets={{ suggest: SuggestWidget }}
        formContext={{ providers, params } satisfies FormContext}
        formData={params}
        validator={formValidator}
        fields={{ json: JsonField }}
        extraErrors={extraErrorsFor(fieldProblems) as ErrorSchema}
        showErrorList={false}
        noHtml5Validate
        readonly={readOnly}
        onChange={(event) => {
          const next = (event.formData ?? {}) as Record<string, unknown>;
          if (used.current && paramsChanged(params, next)) onChange(next);
        }}
      />
    </div>
  );
}
