import type { ButtonHTMLAttributes } from 'preact';

type Variant = 'primary' | 'danger' | 'plain';

/** A button of the console's look; `type="button"` unless it submits a form. */
export function Button(props: { variant?: Variant } & ButtonHTMLAttributes<HTMLButtonElement>) {
  const { variant = 'plain', type = 'button', class: className, ...rest } = props;
  return <button type={type} class={`button ${variant}${className ? ` ${String(className)}` : ''}`} {...rest} />;
}
