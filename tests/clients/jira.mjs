// The Jira and Jira Service Management calls Ferry makes, made by jira.js (a widely used
// client of Atlassian's Jira Cloud platform and Service Management REST APIs), which
// builds each request as the API documents it and checks each answer against the schema
// of Atlassian's API document.
//
// Usage: node jira.mjs SITE_URL EMAIL TOKEN  → one JSON line per step on stdout.
import { createClient } from 'jira.js/core';
import { createCloudClient, createServiceDeskClient } from 'jira.js';
import { steps } from './steps.mjs';

const [host, email, apiToken] = process.argv.slice(2);
// An answer the schema does not describe fails its step (the library's default only warns).
const client = createClient({ host, auth: { type: 'basic', email, apiToken }, retry: { maxAttempts: 1 }, onSchemaMismatch: 'throw' });
const jira = createCloudClient(client);
const desk = createServiceDeskClient(client);
const { step, expect, finish } = steps('jira.js');
const run = Date.now() % 100000;

const permissions = await step('GET /rest/api/3/mypermissions', () => jira.permissions.getMyPermissions({ permissions: 'ADMINISTER' }));
expect(permissions?.permissions?.ADMINISTER?.havePermission === true, 'the account administers Jira');
const fields = await step('GET /rest/api/3/field', () => jira.issueFields.getFields());
const participantsField = fields?.find((f) => f.name === 'Request participants')?.id;
expect(typeof participantsField === 'string', 'the request participants field is listed');

// Accounts: the admin by email, a customer (409 the second time, when asked for).
const admins = await step('GET /rest/api/3/user/search (admin)', () => jira.userSearch.findUsers({ query: email }));
const me = admins?.[0]?.accountId;
expect(typeof me === 'string', 'the admin is found by email');
await step('GET /rest/api/3/user', () => jira.users.getUser({ accountId: me }));
const customerEmail = `client.${run}@example.net`;
const customer = await step('POST /rest/servicedeskapi/customer', () =>
  desk.customer.createCustomer({ email: customerEmail, displayName: 'Client Library Customer', strictConflictStatusCode: true }));
expect(customer?.accountId, 'the customer has an account id');
const again = await step('POST /rest/servicedeskapi/customer (taken)', () =>
  desk.customer.createCustomer({ email: customerEmail, displayName: 'Client Library Customer', strictConflictStatusCode: true }).then(
    () => 'created twice',
    (e) => e?.status ?? e?.statusCode ?? e?.response?.status ?? String(e?.message),
  ));
expect(again === 409, `a taken email answers 409 (got ${again})`);
const found = await step('GET /rest/api/3/user/search (customer)', () => jira.userSearch.findUsers({ query: customerEmail }));
expect(found?.some((a) => a.accountId === customer?.accountId), 'the customer is found by email');

// Organizations.
const org = await step('POST /rest/servicedeskapi/organization', () => desk.organization.createOrganization({ name: `Client Org ${run}` }));
await step('POST /rest/servicedeskapi/organization/{id}/user', () =>
  desk.organization.addUsersToOrganization({ organizationId: Number(org.id), body: { accountIds: [customer.accountId] } }));
const orgs = await step('GET /rest/servicedeskapi/organization', () => desk.organization.getOrganizations({ start: 0, limit: 50 }));
expect(orgs?.values?.some((o) => o.id === org?.id), 'the organization is listed');
const members = await step('GET /rest/servicedeskapi/organization/{id}/user', () => desk.organization.getUsersInOrganization({ organizationId: Number(org.id) }));
expect(members?.values?.some((a) => a.accountId === customer?.accountId), 'the customer is a member');

// A service project, its desk, a request with a property, comments, a transition.
const key = `C${run % 100000}`.slice(0, 10);
const project = await step('POST /rest/api/3/project', () =>
  jira.projects.createProject({ key, name: `Client desk ${run}`, projectTypeKey: 'service_desk', leadAccountId: me }));
expect(project?.key === key, 'the project is created with its key');
await step('GET /rest/api/3/project/{key}', () => jira.projects.getProject({ projectIdOrKey: key }));
await step('PUT /rest/api/3/project/{key}/properties/{property}', () =>
  jira.projectProperties.setProjectProperty({ projectIdOrKey: key, propertyKey: 'ferry-origin', body: { site: 'jira:TEST', kind: 'project', serverId: key } }));
const desks = await step('GET /rest/servicedeskapi/servicedesk', () => desk.servicedesk.getServiceDesks({ start: 0, limit: 100 }));
const serviceDesk = desks?.values?.find((d) => d.projectKey === key);
expect(serviceDesk?.id, 'the project has a service desk');
await step('POST /rest/servicedeskapi/servicedesk/{id}/customer', () => desk.servicedesk.addCustomers({ serviceDeskId: serviceDesk.id, accountIds: [customer.accountId] }));
await step('POST /rest/servicedeskapi/servicedesk/{id}/organization', () =>
  desk.organization.addOrganization({ serviceDeskId: serviceDesk.id, body: { organizationId: Number(org.id) } }));
const types = await step('GET /rest/servicedeskapi/servicedesk/{id}/requesttype', () => desk.servicedesk.getRequestTypes({ serviceDeskId: serviceDesk.id, start: 0, limit: 100 }));
const requestTypeId = types?.values?.[0]?.id;
expect(requestTypeId, 'the desk has a request type');
const request = await step('POST /rest/servicedeskapi/request', () =>
  desk.request.createCustomerRequest({ serviceDeskId: serviceDesk.id, requestTypeId, requestFieldValues: { summary: 'Printer jammed', description: 'The printer is jammed.' } }));
const issueKey = request?.issueKey;
expect(issueKey?.startsWith(`${key}-`), 'the request has a key of its project');
await step('GET /rest/servicedeskapi/request/{key}', () => desk.request.getCustomerRequestByIdOrKey({ issueIdOrKey: issueKey }));
await step('GET /rest/servicedeskapi/request (own)', () => desk.request.getCustomerRequests({ requestOwnership: 'OWNED_REQUESTS', serviceDeskId: Number(serviceDesk.id), searchTerm: 'Printer jammed' }));
await step('PUT /rest/api/3/issue/{key}/properties/{property}', () =>
  jira.issueProperties.setIssueProperty({ issueIdOrKey: issueKey, propertyKey: 'ferry-origin', body: { site: 'jira:TEST', kind: 'request', serverId: '10001', key: 'OLD-1' } }));
const property = await step('GET /rest/api/3/issue/{key}/properties/{property}', () => jira.issueProperties.getIssueProperty({ issueIdOrKey: issueKey, propertyKey: 'ferry-origin' }));
expect(property?.value?.key === 'OLD-1', 'the issue property reads back');
await step('PUT /rest/api/3/issue/{key} (reporter, participants)', () =>
  jira.issues.editIssue({ issueIdOrKey: issueKey, notifyUsers: false, fields: { reporter: { accountId: customer.accountId }, [participantsField]: [{ accountId: me }] } }));
const comment = await step('POST /rest/servicedeskapi/request/{key}/comment', () => desk.request.createRequestComment({ issueIdOrKey: issueKey, body: 'Have you tried turning it off and on?', public: true }));
await step('POST /rest/servicedeskapi/request/{key}/comment (internal)', () => desk.request.createRequestComment({ issueIdOrKey: issueKey, body: 'Agents only.', public: false }));
const comments = await step('GET /rest/servicedeskapi/request/{key}/comment', () => desk.request.getRequestComments({ issueIdOrKey: issueKey, start: 0, limit: 100 }));
expect(comments?.values?.length === 2, 'both comments are listed, in order');
await step('PUT /rest/api/3/comment/{id}/properties/{property}', () =>
  jira.issueCommentProperties.setCommentProperty({ commentId: comment.id, propertyKey: 'ferry-origin', body: { site: 'jira:TEST', kind: 'request-comment', serverId: '50001' } }));
const transitions = await step('GET /rest/api/3/issue/{key}/transitions', () => jira.issues.getTransitions({ issueIdOrKey: issueKey }));
const next = transitions?.transitions?.[0];
expect(next?.id, 'the request has a transition');
await step('POST /rest/api/3/issue/{key}/transitions', () => jira.issues.doTransition({ issueIdOrKey: issueKey, transition: { id: next.id } }));
const moved = await step('GET /rest/servicedeskapi/request/{key} (after the transition)', () => desk.request.getCustomerRequestByIdOrKey({ issueIdOrKey: issueKey }));
expect(moved?.currentStatus?.status === next?.to?.name, `the request is in ${next?.to?.name}`);

finish();
