import { Link } from '../router';
import { PageHeading } from './PageHeading';

export function NotFoundPage() {
  return (
    <section>
      <PageHeading>Page not found</PageHeading>
      <p>
        There is no console page at this address. <Link to="">Go to the buckets.</Link>
      </p>
    </section>
  );
}
