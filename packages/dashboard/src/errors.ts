/** The dashboard's HTTP refusals, as error classes with stable names (they are what the API answers in `error.name`). */
import { TaskchartError } from '@taskchart/core/adapter';

/** Refused: `authorize` said no, actions are disabled, or the CSRF token is missing or wrong. Answered with 403. */
export class DashboardForbiddenError extends TaskchartError {
  override readonly name = 'DashboardForbiddenError';
}

/** No such run, chain version or route. Answered with 404. */
export class DashboardNotFoundError extends TaskchartError {
  override readonly name = 'DashboardNotFoundError';
}

/** A request the API cannot read (a body that is not JSON, a content type other than `application/json`, a bad query). Answered with 400. */
export class DashboardRequestError extends TaskchartError {
  override readonly name = 'DashboardRequestError';
}
