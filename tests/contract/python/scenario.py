"""A third party's first steps, through clients generated from the checked-in
documents only: an operator creates an organization, its admin logs in,
builds a course with lessons and sections, publishes it, finds it in the
catalog and reads its tree.

Usage: scenario.py BASE_URL (e.g. http://127.0.0.1:18089). The service is
reached at BASE_URL; the host that selects the platform or a tenant goes in
X-Forwarded-Host (the service trusts 127.0.0.1 as a proxy), as a reverse
proxy would send it, since `<slug>.localhost` does not resolve everywhere.
"""

import sys
import uuid

from platform_client import Client as PlatformClient
from platform_client import AuthenticatedClient as PlatformAuthenticated
from platform_client.api.auth import create_platform_token
from platform_client.api.organizations import create_organization, get_organization_by_id
from platform_client.models import CreateOrganization, NewOrganizationAdmin, PlatformTokenRequest
from platform_client.models import CreatedOrganization, Organization
from platform_client.models import TokenResponse as PlatformTokens

from tenant_client import Client as TenantClient
from tenant_client import AuthenticatedClient as TenantAuthenticated
from tenant_client.api.auth import create_token
from tenant_client.api.content import create_lesson, create_section
from tenant_client.api.courses import create_course, get_course, list_courses, publish_course
from tenant_client.api.me import get_me
from tenant_client.models import (
    Course,
    CourseDetail,
    CoursePage,
    CreateCourse,
    CreateLesson,
    CreateSection,
    Lesson,
    Section,
    TokenRequest,
    TokenResponse,
)

OPERATOR = ("operator@platform.test", "demo-password")
PASSWORD = "contract-password-1"


def expect(value, kind, what):
    assert isinstance(value, kind), f"{what}: expected {kind.__name__}, got {value!r}"
    return value


def main(base: str) -> None:
    platform_host = {"X-Forwarded-Host": "admin.localhost"}
    anonymous = PlatformClient(base_url=f"{base}/platform/v1", headers=platform_host)
    tokens = expect(
        create_platform_token.sync(
            client=anonymous, body=PlatformTokenRequest(email=OPERATOR[0], password=OPERATOR[1])
        ),
        PlatformTokens,
        "operator login",
    )
    operator = PlatformAuthenticated(
        base_url=f"{base}/platform/v1", token=tokens.access_token, headers=platform_host
    )
    slug = f"contract-{uuid.uuid4().hex[:8]}"
    created = expect(
        create_organization.sync(
            client=operator,
            body=CreateOrganization(
                slug=slug,
                name="Contract Academy",
                admin=NewOrganizationAdmin(
                    email=f"admin@{slug}.test", first_name="Ada", last_name="Client", password=PASSWORD
                ),
            ),
        ),
        CreatedOrganization,
        "create organization",
    )
    org = expect(
        get_organization_by_id.sync(organization_id=created.organization.id, client=operator),
        Organization,
        "get organization",
    )
    assert org.slug == slug and org.api_url.startswith("http"), org

    tenant_host = {"X-Forwarded-Host": f"{slug}.localhost"}
    login = expect(
        create_token.sync(
            client=TenantClient(base_url=f"{base}/api/v1", headers=tenant_host),
            body=TokenRequest(email=f"admin@{slug}.test", password=PASSWORD),
        ),
        TokenResponse,
        "admin login",
    )
    admin = TenantAuthenticated(base_url=f"{base}/api/v1", token=login.access_token, headers=tenant_host)
    me = get_me.sync(client=admin)
    assert me.user.email == f"admin@{slug}.test", me

    course = expect(
        create_course.sync(client=admin, body=CreateCourse(title="Generated clients 101")),
        Course,
        "create course",
    )
    for l in range(2):
        lesson = expect(
            create_lesson.sync(course_id=course.id, client=admin, body=CreateLesson(title=f"Lesson {l + 1}")),
            Lesson,
            "create lesson",
        )
        for s in range(3):
            expect(
                create_section.sync(
                    course_id=course.id,
                    lesson_id=lesson.id,
                    client=admin,
                    body=CreateSection(title=f"Section {l + 1}.{s + 1}", content="Read this."),
                ),
                Section,
                "create section",
            )
    published = expect(publish_course.sync(course_id=course.id, client=admin), Course, "publish")
    assert published.is_published, published

    page = expect(list_courses.sync(client=admin), CoursePage, "list courses")
    assert [c.id for c in page.items] == [course.id], page

    tree = expect(get_course.sync(course_id=course.id, client=admin), CourseDetail, "course tree")
    assert [len(l.sections) for l in tree.lessons] == [3, 3], tree
    assert tree.lessons[1].sections[2].title == "Section 2.3", tree
    print(f"python client scenario passed on {slug}")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"))
