// A third party's first steps, through the TypeScript client generated from
// the checked-in documents only (compiled with `strict` against its types):
// an operator creates an organization, its admin logs in, builds a course
// with lessons and sections, publishes it, finds it in the catalog and
// reads its tree.
//
// Usage: node scenario.js BASE_URL. The host that selects the platform or
// a tenant goes in X-Forwarded-Host (the service trusts 127.0.0.1 as a
// proxy), as a reverse proxy would send it.

import { createClient as createPlatformClient } from './platform/client';
import * as platform from './platform/sdk.gen';
import { createClient as createTenantClient } from './tenant/client';
import * as tenant from './tenant/sdk.gen';
import type { CourseDetail } from './tenant/types.gen';

const OPERATOR = { email: 'operator@platform.test', password: 'demo-password' };
const PASSWORD = 'contract-password-2';

function check(condition: boolean, what: string, detail?: unknown): asserts condition {
  if (!condition) {
    throw new Error(`${what}: ${JSON.stringify(detail)}`);
  }
}

async function main(base: string): Promise<void> {
  const platformHost = { 'X-Forwarded-Host': 'admin.localhost' };
  const anonymous = createPlatformClient({ baseUrl: `${base}/platform/v1`, headers: platformHost });
  const login = await platform.createPlatformToken({ client: anonymous, body: OPERATOR });
  check(login.data !== undefined, 'operator login', login.error);
  const operatorToken = login.data.access_token;
  const operator = createPlatformClient({
    baseUrl: `${base}/platform/v1`,
    headers: platformHost,
    auth: () => operatorToken,
  });

  const slug = `contract-ts-${Date.now().toString(36)}`;
  const created = await platform.createOrganization({
    client: operator,
    body: {
      slug,
      name: 'Contract Academy',
      admin: { email: `admin@${slug}.test`, first_name: 'Ada', last_name: 'Client', password: PASSWORD },
    },
  });
  check(created.data !== undefined, 'create organization', created.error);
  check(created.data.organization.slug === slug, 'slug', created.data);

  const tenantHost = { 'X-Forwarded-Host': `${slug}.localhost` };
  const tokens = await tenant.createToken({
    client: createTenantClient({ baseUrl: `${base}/api/v1`, headers: tenantHost }),
    body: { email: `admin@${slug}.test`, password: PASSWORD },
  });
  check(tokens.data !== undefined, 'admin login', tokens.error);
  const adminToken = tokens.data.access_token;
  const admin = createTenantClient({ baseUrl: `${base}/api/v1`, headers: tenantHost, auth: () => adminToken });

  const me = await tenant.getMe({ client: admin });
  check(me.data?.user.email === `admin@${slug}.test`, 'me', me);

  const course = await tenant.createCourse({ client: admin, body: { title: 'Generated clients 101' } });
  check(course.data !== undefined, 'create course', course.error);
  const courseId = course.data.id;
  for (let l = 1; l <= 2; l++) {
    const lesson = await tenant.createLesson({
      client: admin,
      path: { course_id: courseId },
      body: { title: `Lesson ${l}` },
    });
    check(lesson.data !== undefined, 'create lesson', lesson.error);
    for (let s = 1; s <= 3; s++) {
      const section = await tenant.createSection({
        client: admin,
        path: { course_id: courseId, lesson_id: lesson.data.id },
        body: { title: `Section ${l}.${s}`, content: 'Read this.' },
      });
      check(section.data !== undefined, 'create section', section.error);
    }
  }
  const published = await tenant.publishCourse({ client: admin, path: { course_id: courseId } });
  check(published.data?.is_published === true, 'publish', published.error);

  const page = await tenant.listCourses({ client: admin });
  check(page.data !== undefined, 'list courses', page.error);
  check(page.data.items.length === 1 && page.data.items[0].id === courseId, 'catalog', page.data);

  const tree = await tenant.getCourse({ client: admin, path: { course_id: courseId } });
  check(tree.data !== undefined && tree.response.status === 200, 'course tree', tree.error);
  const detail: CourseDetail = tree.data;
  check(
    detail.lessons.map((l) => l.sections.length).join(',') === '3,3',
    'lessons and sections',
    detail,
  );
  check(detail.lessons[1].sections[2].title === 'Section 2.3', 'section order', detail);
  console.log(`typescript client scenario passed on ${slug}`);
}

main(process.argv[2].replace(/\/$/, '')).catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
