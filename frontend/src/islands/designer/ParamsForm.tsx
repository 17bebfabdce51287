// The params form, rendered by rjsf from the node type's JSON Schema. Loaded lazily: the canvas
// draws before this chunk arrives.
import Form from "@rjsf/core";
import type { ErrorSchema, FieldProps, RJSFSchema } from "@rjsf/utils";
import { useEffect, useState } from "react";
import { formValidator } from "../../lib/formValidator";
import type { JsonSchema } from "../../lib/nodeKinds";
import { extraErrorsFor, readValue, uiSchemaFor } from "../../lib/paramsUi";

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

export interface ParamsFormProps {
  schema: JsonSchema;
  params: Record<string, unknown>;
  fieldProblems: Record<string, string[]> | undefined;
  readOnly: boolean;
  onChange: (params: Record<string, unknown>) => void;
}

export default function ParamsForm({ schema, params, fieldProblems, readOnly, onChange }: ParamsFormProps) {
  return (
    <Form
      schema={schema as RJSFSchema}
      uiSchema={uiSchemaFor(schema)}
      formData={params}
      validator={formValidator}
      fields={{ json: JsonField }}
      extraErrors={extraErrorsFor(fieldProblems) as ErrorSchema}
      showErrorList={false}
      noHtml5Validate
      readonly={readOnly}
      onChange={(event) => onChange((event.formData ?? {}) as Record<string, unknown>)}
    />
  );
}
