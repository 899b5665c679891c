// The Confluence calls Ferry makes, made by confluence.js (a widely used client of
// Atlassian's Confluence Cloud REST APIs, v1 and v2). The library builds each request as
// the API documents it and checks each answer against the schema of Atlassian's API
// document: a request the staging site refuses, or an answer shaped otherwise, fails
// the step.
//
// Usage: node confluence.mjs SITE_URL EMAIL TOKEN  → one JSON line per step on stdout.
import { createClient } from 'confluence.js/core';
import * as v1 from 'confluence.js/v1';
import * as v2 from 'confluence.js/v2';
import { steps } from './steps.mjs';

const [host, email, apiToken] = process.argv.slice(2);
const client = createClient({ host, auth: { type: 'basic', email, apiToken }, retry: { maxAttempts: 1 } });
const { step, expect, finish } = steps('confluence.js');
const storage = (value) => ({ representation: 'storage', value });

const me = await step('GET /wiki/rest/api/user/current', () => v1.getCurrentUser(client, { expand: ['operations'] }));
expect(me?.accountId, 'the current user has an account id');

const key = `CJS${Date.now() % 100000}`;
await step('POST /wiki/rest/api/space', () => v1.createSpace(client, { key, name: 'Client library space', description: { plain: { value: 'made by confluence.js', representation: 'plain' } } }));
const spaces = await step('GET /wiki/api/v2/spaces?keys=', () => v2.getSpaces(client, { keys: [key] }));
const spaceId = spaces?.results?.[0]?.id;
expect(typeof spaceId === 'string', `space ${key} has a string id`);
await step('POST /wiki/rest/api/space/{key}/permission', () =>
  v1.addPermissionToSpace(client, { spaceKey: key, subject: { type: 'user', identifier: me.accountId }, operation: { key: 'read', target: 'space' } }));

// A page, its next version, a child, and their properties.
const page = await step('POST /wiki/api/v2/pages', () =>
  v2.createPage(client, { body: { spaceId, status: 'current', title: 'Alpha', body: storage('<p>alpha beta alpha gamma</p>') } }));
expect(typeof page?.id === 'string', 'a page id is a string');
const read = await step('GET /wiki/api/v2/pages/{id}?body-format=storage', () => v2.getPageById(client, { id: page.id, bodyFormat: 'storage' }));
expect(read?.body?.storage?.value?.includes('alpha beta'), 'the page reads back its storage body');
await step('PUT /wiki/api/v2/pages/{id}', () =>
  v2.updatePage(client, { id: page.id, body: { id: page.id, status: 'current', title: 'Alpha', body: storage('<p>alpha beta alpha gamma, again</p>'), version: { number: 2, message: 'Saved on Server by Ada at 2020-01-02: second' } } }));
const versions = await step('GET /wiki/api/v2/pages/{id}/versions', () => v2.getPageVersions(client, { id: page.id }));
expect(versions?.results?.length === 2, 'the page has two versions');
const child = await step('POST /wiki/api/v2/pages (child)', () =>
  v2.createPage(client, { body: { spaceId, status: 'current', title: 'Alpha child', parentId: page.id, body: storage('<p>child</p>') } }));
const origin = { site: 'wiki.example', kind: 'page', serverId: 1001 };
await step('POST /wiki/api/v2/pages/{id}/properties', () => v2.createPageProperty(client, { pageId: page.id, key: 'ferry-origin', value: origin }));
const props = await step('GET /wiki/api/v2/pages/{id}/properties?key=', () => v2.getPageContentProperties(client, { pageId: page.id, key: 'ferry-origin' }));
expect(props?.results?.[0]?.value?.serverId === 1001, 'the property reads back');

// A blog post with a property.
const post = await step('POST /wiki/api/v2/blogposts', () =>
  v2.createBlogPost(client, { body: { spaceId, status: 'current', title: 'News', body: storage('<p>news</p>') } }));
await step('GET /wiki/api/v2/blogposts/{id}', () => v2.getBlogPostById(client, { id: post.id, bodyFormat: 'storage' }));
await step('POST /wiki/api/v2/blogposts/{id}/properties', () => v2.createBlogpostProperty(client, { blogpostId: post.id, key: 'ferry-origin', value: { ...origin, kind: 'blogpost' } }));

// Comments: footer, reply, on a blog post, inline by text and occurrence.
const footer = await step('POST /wiki/api/v2/footer-comments', () => v2.createFooterComment(client, { pageId: page.id, body: storage('<p>first</p>') }));
const reply = await step('POST /wiki/api/v2/footer-comments (reply)', () => v2.createFooterComment(client, { parentCommentId: footer.id, body: storage('<p>reply</p>') }));
await step('POST /wiki/api/v2/footer-comments (blog post)', () => v2.createFooterComment(client, { blogPostId: post.id, body: storage('<p>on news</p>') }));
const footers = await step('GET /wiki/api/v2/pages/{id}/footer-comments', () => v2.getPageFooterComments(client, { id: page.id }));
expect(footers?.results?.some((c) => c.id === footer?.id), 'the footer comment is listed');
const replies = await step('GET /wiki/api/v2/footer-comments/{id}/children', () => v2.getFooterCommentChildren(client, { id: footer.id }));
expect(replies?.results?.some((c) => c.id === reply?.id), 'the reply is listed under its comment');
await step('POST /wiki/api/v2/comments/{id}/properties', () => v2.createCommentProperty(client, { commentId: footer.id, key: 'ferry-origin', value: { ...origin, kind: 'comment' } }));
const inline = await step('POST /wiki/api/v2/inline-comments', () =>
  v2.createInlineComment(client, {
    pageId: page.id, body: storage('<p>which alpha?</p>'), inlineCommentProperties: { textSelection: 'alpha', textSelectionMatchCount: 2, textSelectionMatchIndex: 1 },
  }));
const inlines = await step('GET /wiki/api/v2/pages/{id}/inline-comments', () => v2.getPageInlineComments(client, { id: page.id }));
expect(inlines?.results?.some((c) => c.id === inline?.id), 'the inline comment is listed');
const marked = await step('GET /wiki/api/v2/pages/{id} (after the inline comment)', () => v2.getPageById(client, { id: page.id, bodyFormat: 'storage' }));
expect(/alpha beta <ac:inline-comment-marker ac:ref="[^"]+">alpha<\/ac:inline-comment-marker>/.test(marked?.body?.storage?.value ?? ''), 'the site marked the second "alpha"');

// Restrictions, attachments, labels.
await step('PUT /wiki/rest/api/content/{id}/restriction', () =>
  v1.updateRestrictions(client, {
    id: child.id,
    body: [
      { operation: 'read', restrictions: { user: [{ type: 'known', accountId: me.accountId }] } },
      { operation: 'update', restrictions: { user: [{ type: 'known', accountId: me.accountId }] } },
    ],
  }));
// Through the library's transport and its answer schema, with the `minorEdit` part the
// API document requires (the library's createAttachment leaves it out).
const form = new FormData();
form.append('file', new Blob(['some notes\n'], { type: 'text/plain' }), 'notes.txt');
form.append('minorEdit', 'true');
const attached = await step('POST /wiki/rest/api/content/{id}/child/attachment', () =>
  client.sendRequest({ url: `/wiki/rest/api/content/${page.id}/child/attachment`, method: 'POST', headers: { 'X-Atlassian-Token': 'nocheck' }, body: form, schema: v1.ContentArraySchema }));
const attachmentId = attached?.results?.[0]?.id;
expect(typeof attachmentId === 'string' && attachmentId.startsWith('att'), 'an attachment id is att<n>');
const listed = await step('GET /wiki/api/v2/pages/{id}/attachments?filename=', () => v2.getPageAttachments(client, { id: page.id, filename: 'notes.txt' }));
expect(listed?.results?.length === 1, 'the attachment is found by its file name');
await step('POST /wiki/api/v2/footer-comments (attachment)', () => v2.createFooterComment(client, { attachmentId, body: storage('<p>on the file</p>') }));
await step('DELETE /wiki/api/v2/attachments/{id}', () => v2.deleteAttachment(client, { id: attachmentId }));
const gone = await step('GET /wiki/api/v2/pages/{id}/attachments (after the delete)', () => v2.getPageAttachments(client, { id: page.id }));
expect(gone?.results?.length === 0, 'the deleted attachment is gone');
const restrictions = await step('GET /wiki/rest/api/content/{id}/restriction', () => v1.getRestrictions(client, { id: child.id }));
expect(restrictions?.results?.length === 2 && restrictions.results.every((r) => r.restrictions?.user?.results?.[0]?.accountId === me.accountId), 'the restrictions read back per operation');
await step('POST /wiki/rest/api/content/{id}/label', () => v1.addLabelsToContent(client, { id: page.id, body: [{ prefix: 'global', name: 'howto' }] }));

finish();
