//! A realistic dataset for benchmarks, plan checks and the demo: tenants of
//! skewed sizes (a few large ones, a long tail), users with roles, courses
//! with lessons and sections of realistic text sizes, categories, tags,
//! enrollments, progress, learning sessions and reviews.
//!
//! Deterministic: the same seed, scale and `as_of` time give the same rows,
//! ids included. Loaded with COPY into the real schema, in one transaction,
//! with triggers off (`session_replication_role = replica`, as an import
//! does): the generator writes what the triggers would have derived
//! (ratings, pinned versions, the published snapshots) itself, and every
//! row satisfies the schema's keys and checks.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use lms_domain::DEFAULT_ROLES;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use uuid::Uuid;

use crate::queries::courses::{COURSE_TREE, SNAPSHOT_SCHEMA_VERSION};

/// How much to generate, in all (tenant sizes follow a skewed split).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// Organizations.
    pub tenants: u32,
    /// Users, admins and instructors included.
    pub users: u64,
    /// Courses.
    pub courses: u64,
    /// Progress rows (completed sections), approximately.
    pub progress: u64,
}

impl Scale {
    /// The benchmark scale: 1,000 tenants, 100,000 users, 20,000 courses,
    /// 5 million progress rows.
    pub const BENCH: Scale = Scale {
        tenants: 1_000,
        users: 100_000,
        courses: 20_000,
        progress: 5_000_000,
    };
}

/// The sizes of one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantSize {
    /// Users, the admin included.
    pub users: u64,
    /// Courses.
    pub courses: u64,
    /// Progress rows to aim at.
    pub progress: u64,
}

impl TenantSize {
    /// The living sample of the embedded demo tenant.
    pub const DEMO: TenantSize = TenantSize {
        users: 25,
        courses: 6,
        progress: 300,
    };
}

/// Rows written, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Organizations.
    pub tenants: u64,
    /// Users.
    pub users: u64,
    /// Courses.
    pub courses: u64,
    /// Lessons.
    pub lessons: u64,
    /// Sections.
    pub sections: u64,
    /// Enrollments.
    pub enrollments: u64,
    /// Progress rows.
    pub progress: u64,
    /// Learning sessions.
    pub sessions: u64,
    /// Reviews.
    pub reviews: u64,
}

/// Midnight (UTC) of `t`'s day: the `as_of` that makes a day's runs agree.
pub fn start_of_day(t: DateTime<Utc>) -> DateTime<Utc> {
    t.date_naive().and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Splits `scale` over its tenants: tenant `i` (from 0) weighs
/// `1 / (i + 1)^1.1`, and every tenant has at least an admin, a learner and
/// a course.
pub fn tenant_sizes(scale: &Scale) -> Vec<TenantSize> {
    let n = scale.tenants.max(1) as usize;
    let weights: Vec<f64> = (0..n).map(|i| 1.0 / ((i + 1) as f64).powf(1.1)).collect();
    let total: f64 = weights.iter().sum();
    let share = |all: u64, w: f64, min: u64| ((all as f64 * w / total).round() as u64).max(min);
    weights
        .iter()
        .map(|&w| TenantSize {
            users: share(scale.users, w, 2),
            courses: share(scale.courses, w, 1),
            progress: share(scale.progress, w, 0),
        })
        .collect()
}

/// Generates `scale` as new organizations whose slugs are `prefix` and a
/// number (`t0001`…), every user's password hash being `password_hash`.
/// `on_tenant` hears the running totals after each tenant.
pub async fn generate(
    conn: &mut PgConnection,
    seed: u64,
    scale: &Scale,
    prefix: &str,
    password_hash: &str,
    as_of: DateTime<Utc>,
    mut on_tenant: impl FnMut(&Totals),
) -> anyhow::Result<Totals> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Batch::default();
    let mut totals = Totals::default();
    let mut tx = bulk(conn).await?;
    let mut loaded = Vec::new();
    for (i, size) in tenant_sizes(scale).into_iter().enumerate() {
        let mut t = Tenant::new(&mut rng, as_of, password_hash);
        let slug = format!("{prefix}{:04}", i + 1);
        let name = format!("{} {}", title_case(pick(t.rng, WORDS)), pick(t.rng, KINDS));
        t.organization(&mut out, &slug, &name);
        t.roles(&mut out);
        t.fill(&mut out, &slug, size, &mut totals);
        totals.tenants += 1;
        loaded.push(t.org);
        out.orgs.push(t.org);
        if out.bytes() > 16 << 20 {
            out.flush(&mut tx).await?;
        }
        on_tenant(&totals);
    }
    out.flush(&mut tx).await?;
    finish(tx, &loaded).await?;
    Ok(totals)
}

/// Fills the existing organization `org` (seeded with its default roles and
/// admin) with a sample of `size`: the demo tenant's first start.
pub async fn populate(
    conn: &mut PgConnection,
    seed: u64,
    org: Uuid,
    slug: &str,
    size: TenantSize,
    password_hash: &str,
    as_of: DateTime<Utc>,
) -> anyhow::Result<Totals> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tx = bulk(conn).await?;
    let roles: Vec<(String, Uuid)> =
        sqlx::query_as("SELECT name, id FROM roles WHERE organization_id = $1 AND is_system")
            .bind(org)
            .fetch_all(&mut *tx)
            .await?;
    let role = |name: &str| {
        roles
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
            .ok_or_else(|| anyhow::anyhow!("the organization has no {name} role"))
    };
    let mut t = Tenant::new(&mut rng, as_of, password_hash);
    t.org = org;
    t.role_ids = [role("learner")?, role("instructor")?, role("admin")?];
    t.has_admin = true;
    let mut out = Batch::default();
    let mut totals = Totals::default();
    t.fill(&mut out, slug, size, &mut totals);
    out.orgs.push(org);
    out.flush(&mut tx).await?;
    finish(tx, &[org]).await?;
    Ok(totals)
}

/// The one transaction a load runs in, triggers off: the generator writes
/// what they would derive.
async fn bulk(conn: &mut PgConnection) -> anyhow::Result<sqlx::Transaction<'_, sqlx::Postgres>> {
    let mut tx = conn.begin().await?;
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Counts the loaded tenants' rows for their usage (the triggers that would
/// have were off), then commits.
async fn finish(
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    orgs: &[Uuid],
) -> anyhow::Result<()> {
    sqlx::query("SELECT usage.recount($1)")
        .bind(orgs)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// COPY buffers, one per table, in text format.
#[derive(Default)]
struct Batch {
    organizations: String,
    roles: String,
    users: String,
    user_roles: String,
    categories: String,
    tags: String,
    courses: String,
    lessons: String,
    sections: String,
    course_categories: String,
    course_tags: String,
    enrollments: String,
    certificates: String,
    auth_sessions: String,
    progress: String,
    learning_sessions: String,
    reviews: String,
    /// Organizations whose published courses need their snapshots.
    orgs: Vec<Uuid>,
}

impl Batch {
    fn tables(&mut self) -> [(&'static str, &'static str, &mut String); 17] {
        [
            (
                "organizations",
                "id, slug, name, created_at, updated_at",
                &mut self.organizations,
            ),
            (
                "roles",
                "organization_id, id, name, description, permissions, is_system, created_at, updated_at",
                &mut self.roles,
            ),
            (
                "users",
                "organization_id, id, email, first_name, last_name, password_hash, last_login_at, created_at, updated_at",
                &mut self.users,
            ),
            (
                "user_roles",
                "organization_id, user_id, role_id, created_at",
                &mut self.user_roles,
            ),
            (
                "categories",
                "organization_id, id, name, slug, description, parent_id, color, created_at, updated_at",
                &mut self.categories,
            ),
            (
                "tags",
                "organization_id, id, name, color, created_at",
                &mut self.tags,
            ),
            (
                "courses",
                "organization_id, id, title, description, difficulty, is_published, average_rating, \
                 rating_count, rating_sum, created_at, updated_at, created_by, updated_by",
                &mut self.courses,
            ),
            (
                "lessons",
                "organization_id, id, course_id, title, description, position, created_at, updated_at",
                &mut self.lessons,
            ),
            (
                "sections",
                "organization_id, id, lesson_id, title, content, type, position, duration_minutes, \
                 created_at, updated_at",
                &mut self.sections,
            ),
            (
                "course_categories",
                "organization_id, course_id, category_id",
                &mut self.course_categories,
            ),
            (
                "course_tags",
                "organization_id, course_id, tag_id",
                &mut self.course_tags,
            ),
            (
                "enrollments",
                "organization_id, id, user_id, course_id, status, enrolled_at, completed_at, final_grade, \
                 course_version, updated_at",
                &mut self.enrollments,
            ),
            (
                "certificates",
                "organization_id, id, code, enrollment_id, user_id, course_id, learner_name, course_title, \
                 final_grade, completed_at, issued_at",
                &mut self.certificates,
            ),
            (
                "auth_sessions",
                "organization_id, id, user_id, created_at, last_used_at, revoked_at",
                &mut self.auth_sessions,
            ),
            (
                "progress",
                "organization_id, id, user_id, course_id, lesson_id, section_id, completed_at, \
                 time_spent_seconds, attempts_count, score",
                &mut self.progress,
            ),
            (
                "learning_sessions",
                "organization_id, id, user_id, course_id, started_at, ended_at, duration_seconds, last_seen_at",
                &mut self.learning_sessions,
            ),
            (
                "reviews",
                "organization_id, id, course_id, user_id, rating, body, created_at, updated_at",
                &mut self.reviews,
            ),
        ]
    }

    fn bytes(&mut self) -> usize {
        self.tables().iter().map(|(_, _, b)| b.len()).sum()
    }

    /// Sends every buffer, then writes the published snapshots of the
    /// courses sent.
    async fn flush(&mut self, conn: &mut PgConnection) -> anyhow::Result<()> {
        for (table, columns, buf) in self.tables() {
            if buf.is_empty() {
                continue;
            }
            let mut copy = conn
                .copy_in_raw(&format!("COPY public.{table} ({columns}) FROM STDIN"))
                .await?;
            copy.send(std::mem::take(buf).into_bytes()).await?;
            copy.finish().await?;
        }
        if !self.orgs.is_empty() {
            // What publishing writes: version 1's snapshot of each course.
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO course_versions (organization_id, id, course_id, version, title, description, \
                                              content, published_at, created_at, created_by) \
                 SELECT c.organization_id, md5(c.id::text || ':v1')::uuid, c.id, c.version, c.title, \
                        c.description, {COURSE_TREE} || jsonb_build_object('schema_version', {SNAPSHOT_SCHEMA_VERSION}), \
                        c.created_at, c.created_at, c.created_by \
                   FROM courses c \
                  WHERE c.organization_id = ANY ($1) AND c.is_published \
                    AND NOT EXISTS (SELECT 1 FROM course_versions v \
                                     WHERE v.organization_id = c.organization_id AND v.course_id = c.id)"
            )))
            .bind(std::mem::take(&mut self.orgs))
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

/// One tenant being written.
struct Tenant<'a> {
    rng: &'a mut ChaCha8Rng,
    now: DateTime<Utc>,
    hash: &'a str,
    org: Uuid,
    /// learner, instructor, admin.
    role_ids: [Uuid; 3],
    has_admin: bool,
}

/// A course as written, for enrollments and progress.
struct CourseShape {
    id: Uuid,
    published: bool,
    created: DateTime<Utc>,
    /// (lesson, section, is a quiz), in order.
    sections: Vec<(Uuid, Uuid, bool)>,
    ratings: (i32, i64),
    title: String,
}

impl<'a> Tenant<'a> {
    fn new(rng: &'a mut ChaCha8Rng, now: DateTime<Utc>, hash: &'a str) -> Self {
        let mut t = Self {
            rng,
            now,
            hash,
            org: Uuid::nil(),
            role_ids: [Uuid::nil(); 3],
            has_admin: false,
        };
        t.org = t.id(now - Duration::days(400));
        t
    }

    /// A version-7 id stamped `at`, its random bits from the seed.
    fn id(&mut self, at: DateTime<Utc>) -> Uuid {
        let bytes: [u8; 10] = self.rng.random();
        uuid::Builder::from_unix_timestamp_millis(at.timestamp_millis().max(0) as u64, &bytes)
            .into_uuid()
    }

    /// A time up to `days` before now.
    fn ago(&mut self, days: i64) -> DateTime<Utc> {
        self.now - Duration::seconds(self.rng.random_range(0..days.max(1) * 86_400))
    }

    /// A time between `from` and now.
    fn since(&mut self, from: DateTime<Utc>) -> DateTime<Utc> {
        let span = (self.now - from).num_seconds().max(1);
        from + Duration::seconds(self.rng.random_range(0..span))
    }

    fn organization(&mut self, out: &mut Batch, slug: &str, name: &str) {
        let at = self.now - Duration::days(400);
        row(
            &mut out.organizations,
            &[&self.org.to_string(), slug, name, &ts(at), &ts(at)],
        );
    }

    fn roles(&mut self, out: &mut Batch) {
        let at = self.now - Duration::days(400);
        for r in DEFAULT_ROLES {
            let id = self.id(at);
            let slot = match r.name {
                "learner" => 0,
                "instructor" => 1,
                _ => 2,
            };
            self.role_ids[slot] = id;
            let permissions = serde_json::to_string(
                &r.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            )
            .unwrap_or_else(|_| "[]".into());
            row(
                &mut out.roles,
                &[
                    &self.org.to_string(),
                    &id.to_string(),
                    r.name,
                    r.description,
                    &permissions,
                    "t",
                    &ts(at),
                    &ts(at),
                ],
            );
        }
    }

    /// A user with one role and the login session of their last visit.
    fn user(
        &mut self,
        out: &mut Batch,
        email: &str,
        role: usize,
        since_days: i64,
    ) -> (Uuid, String) {
        let created = self.ago(since_days);
        let id = self.id(created);
        let first = pick(self.rng, FIRST_NAMES);
        let last = pick(self.rng, LAST_NAMES);
        let login = self.since(created);
        let org = self.org.to_string();
        row(
            &mut out.users,
            &[
                &org,
                &id.to_string(),
                email,
                first,
                last,
                self.hash,
                &ts(login),
                &ts(created),
                &ts(created),
            ],
        );
        row(
            &mut out.user_roles,
            &[
                &org,
                &id.to_string(),
                &self.role_ids[role].to_string(),
                &ts(created),
            ],
        );
        let session = self.id(login);
        let used = self.since(login);
        let revoked = if self.rng.random_bool(0.5) {
            ts(used)
        } else {
            "\\N".into()
        };
        row(
            &mut out.auth_sessions,
            &[
                &org,
                &session.to_string(),
                &id.to_string(),
                &ts(login),
                &ts(used),
                &revoked,
            ],
        );
        (id, format!("{first} {last}"))
    }

    /// Users, catalog and learning of one tenant.
    fn fill(&mut self, out: &mut Batch, slug: &str, size: TenantSize, totals: &mut Totals) {
        let org = self.org.to_string();
        let domain = format!("{slug}.example.com");
        let mut users = 0;
        if !self.has_admin {
            self.user(out, &format!("admin@{domain}"), 2, 400);
            users += 1;
        }
        let instructors: Vec<Uuid> = (0..(size.users / 40).max(1))
            .map(|n| self.user(out, &format!("instructor{n}@{domain}"), 1, 390).0)
            .collect();
        users += instructors.len() as u64;
        let learners: Vec<(Uuid, String)> = (0..size.users.saturating_sub(users).max(1))
            .map(|n| self.user(out, &format!("learner{n}@{domain}"), 0, 365))
            .collect();
        totals.users += users + learners.len() as u64;

        // Categories (a third of them under another) and tags.
        let mut categories = Vec::new();
        for n in 0..(3 + size.courses / 8).min(30) {
            let at = self.ago(390);
            let id = self.id(at);
            let name = format!(
                "{} {}",
                title_case(pick(self.rng, WORDS)),
                title_case(pick(self.rng, WORDS))
            );
            let parent = (n > 2 && self.rng.random_bool(0.33))
                .then(|| categories[self.rng.random_range(0..categories.len())]);
            let slug = format!("{}-{n}", name.to_lowercase().replace(' ', "-"));
            let description = sentence(self.rng, 8, 20);
            row(
                &mut out.categories,
                &[
                    &org,
                    &id.to_string(),
                    &name,
                    &slug,
                    &description,
                    &opt(parent.map(|p: Uuid| p.to_string())),
                    pick(self.rng, COLOURS),
                    &ts(at),
                    &ts(at),
                ],
            );
            categories.push(id);
        }
        let mut tags = Vec::new();
        for n in 0..self.rng.random_range(4..=12) {
            let at = self.ago(390);
            let id = self.id(at);
            let name = format!("{}-{n}", pick(self.rng, WORDS));
            row(
                &mut out.tags,
                &[
                    &org,
                    &id.to_string(),
                    &name,
                    pick(self.rng, COLOURS),
                    &ts(at),
                ],
            );
            tags.push(id);
        }

        // Courses: a few long ones, most of them short.
        let mut courses = Vec::new();
        for _ in 0..size.courses {
            let created = self.ago(360);
            let id = self.id(created);
            let author = instructors[self.rng.random_range(0..instructors.len())].to_string();
            let mut shape = CourseShape {
                id,
                published: self.rng.random_bool(0.85),
                created,
                sections: Vec::new(),
                ratings: (0, 0),
                title: title_case(sentence(self.rng, 2, 6).trim_end_matches('.')),
            };
            let lessons = 1 + (self.rng.random::<f64>().powi(2) * 10.0) as i32;
            for lp in 0..lessons {
                let lesson = self.id(created);
                let title = sentence(self.rng, 3, 7);
                let description = sentence(self.rng, 10, 30);
                row(
                    &mut out.lessons,
                    &[
                        &org,
                        &lesson.to_string(),
                        &id.to_string(),
                        &title,
                        &description,
                        &lp.to_string(),
                        &ts(created),
                        &ts(created),
                    ],
                );
                for sp in 0..self.rng.random_range(1..=8) {
                    let section = self.id(created);
                    let kind = pick(self.rng, SECTION_TYPES);
                    let title = sentence(self.rng, 2, 6);
                    let content = paragraph(self.rng, 40, 400);
                    let minutes = self.rng.random_range(3..=30).to_string();
                    row(
                        &mut out.sections,
                        &[
                            &org,
                            &section.to_string(),
                            &lesson.to_string(),
                            &title,
                            &content,
                            kind,
                            &sp.to_string(),
                            &minutes,
                            &ts(created),
                            &ts(created),
                        ],
                    );
                    shape.sections.push((lesson, section, kind == "QUIZ"));
                }
            }
            totals.lessons += lessons as u64;
            totals.sections += shape.sections.len() as u64;
            for &c in pick_some(self.rng, &categories, 0..=2).iter() {
                row(
                    &mut out.course_categories,
                    &[&org, &id.to_string(), &c.to_string()],
                );
            }
            for &t in pick_some(self.rng, &tags, 0..=3).iter() {
                row(
                    &mut out.course_tags,
                    &[&org, &id.to_string(), &t.to_string()],
                );
            }
            courses.push((shape, author));
        }
        totals.courses += size.courses;

        // Enrollments in published courses, progress through them in order,
        // learning sessions, and a review from about a quarter of learners.
        let published: Vec<usize> = (0..courses.len())
            .filter(|&i| courses[i].0.published)
            .collect();
        if !published.is_empty() {
            let mean_sections = published
                .iter()
                .map(|&i| courses[i].0.sections.len() as f64)
                .sum::<f64>()
                / published.len() as f64;
            // Enrollments per learner aimed at the progress budget (half of
            // each course done on average).
            let per_learner = (size.progress as f64
                / (learners.len() as f64 * mean_sections * 0.46))
                .clamp(0.3, published.len() as f64);
            for learner in &learners {
                let n = ((per_learner * 2.0 * self.rng.random::<f64>()).round() as usize)
                    .min(published.len());
                for pos in pick_indexes(self.rng, published.len(), n) {
                    let course = &mut courses[published[pos]].0;
                    self.enroll(out, (learner.0, &learner.1), course, totals);
                }
            }
        }
        for (shape, author) in &courses {
            let (count, sum) = shape.ratings;
            let average = if count > 0 {
                format!("{:.2}", sum as f64 / f64::from(count))
            } else {
                "0".into()
            };
            let description = paragraph(self.rng, 30, 150);
            let difficulty = pick(self.rng, DIFFICULTIES);
            row(
                &mut out.courses,
                &[
                    &org,
                    &shape.id.to_string(),
                    &shape.title,
                    &description,
                    difficulty,
                    if shape.published { "t" } else { "f" },
                    &average,
                    &count.to_string(),
                    &sum.to_string(),
                    &ts(shape.created),
                    &ts(shape.created),
                    author,
                    author,
                ],
            );
        }
    }

    fn enroll(
        &mut self,
        out: &mut Batch,
        (learner, learner_name): (Uuid, &str),
        course: &mut CourseShape,
        totals: &mut Totals,
    ) {
        let org = self.org.to_string();
        let (user, course_id) = (learner.to_string(), course.id.to_string());
        let enrolled = self.since(course.created.max(self.now - Duration::days(180)));
        let id = self.id(enrolled);
        let done = (course.sections.len() as f64 * self.rng.random::<f64>()).round() as usize;
        let mut at = enrolled;
        let mut scores = Vec::new();
        for &(lesson, section, quiz) in course.sections.iter().take(done) {
            let step = (self.now - at).num_seconds().max(2) / 4;
            at += Duration::seconds(self.rng.random_range(1..=step.max(1)));
            let score = if quiz {
                let s: i32 = self.rng.random_range(40..=100);
                scores.push(s);
                s.to_string()
            } else {
                "\\N".into()
            };
            let pid = self.id(at);
            row(
                &mut out.progress,
                &[
                    &org,
                    &pid.to_string(),
                    &user,
                    &course_id,
                    &lesson.to_string(),
                    &section.to_string(),
                    &ts(at),
                    &self.rng.random_range(60..=1800).to_string(),
                    &self.rng.random_range(1..=3).to_string(),
                    &score,
                ],
            );
        }
        // Every section done: completed, graded by the mean quiz score, and
        // certified.
        let complete = done > 0 && done == course.sections.len();
        let grade = (!scores.is_empty()).then(|| {
            format!(
                "{:.2}",
                f64::from(scores.iter().sum::<i32>()) / scores.len() as f64
            )
        });
        row(
            &mut out.enrollments,
            &[
                &org,
                &id.to_string(),
                &user,
                &course_id,
                if complete { "COMPLETED" } else { "ACTIVE" },
                &ts(enrolled),
                &if complete { ts(at) } else { "\\N".into() },
                &if complete {
                    opt(grade.clone())
                } else {
                    "\\N".into()
                },
                "1",
                &ts(if complete { at } else { enrolled }),
            ],
        );
        totals.enrollments += 1;
        if complete {
            let code: String = (0..24)
                .map(|_| CODE_CHARS[self.rng.random_range(0..CODE_CHARS.len())] as char)
                .collect();
            let cid = self.id(at);
            row(
                &mut out.certificates,
                &[
                    &org,
                    &cid.to_string(),
                    &code,
                    &id.to_string(),
                    &user,
                    &course_id,
                    learner_name,
                    &course.title,
                    &opt(grade),
                    &ts(at),
                    &ts(at),
                ],
            );
        }
        totals.progress += done as u64;
        for _ in 0..self.rng.random_range(0..=3) {
            let start = self.since(enrolled);
            let seconds = self.rng.random_range(120..=5400);
            let end = (start + Duration::seconds(seconds)).min(self.now);
            let sid = self.id(start);
            let duration = (end - start).num_seconds().to_string();
            row(
                &mut out.learning_sessions,
                &[
                    &org,
                    &sid.to_string(),
                    &user,
                    &course_id,
                    &ts(start),
                    &ts(end),
                    &duration,
                    &ts(end),
                ],
            );
            totals.sessions += 1;
        }
        if done > 0 && self.rng.random_bool(0.25) {
            let rating: i32 = *[5, 5, 5, 4, 4, 4, 3, 3, 2, 1]
                .get(self.rng.random_range(0..10))
                .unwrap_or(&4);
            let at = self.since(enrolled);
            let rid = self.id(at);
            let body = if self.rng.random_bool(0.6) {
                paragraph(self.rng, 10, 80)
            } else {
                "\\N".into()
            };
            row(
                &mut out.reviews,
                &[
                    &org,
                    &rid.to_string(),
                    &course_id,
                    &user,
                    &rating.to_string(),
                    &body,
                    &ts(at),
                    &ts(at),
                ],
            );
            course.ratings.0 += 1;
            course.ratings.1 += i64::from(rating);
            totals.reviews += 1;
        }
    }
}

/// Appends one COPY text row (fields already escaped where needed; `\N`
/// is NULL).
fn row(buf: &mut String, fields: &[&str]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            buf.push('\t');
        }
        if *f == "\\N" {
            buf.push_str(f);
            continue;
        }
        for ch in f.chars() {
            match ch {
                '\\' => buf.push_str("\\\\"),
                '\t' => buf.push_str("\\t"),
                '\n' => buf.push_str("\\n"),
                '\r' => buf.push_str("\\r"),
                c => buf.push(c),
            }
        }
    }
    buf.push('\n');
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()
}

fn opt(v: Option<String>) -> String {
    v.unwrap_or_else(|| "\\N".into())
}

fn pick<'w>(rng: &mut ChaCha8Rng, from: &[&'w str]) -> &'w str {
    from[rng.random_range(0..from.len())]
}

/// `n` distinct indexes below `len`, in ascending order.
fn pick_indexes(rng: &mut ChaCha8Rng, len: usize, n: usize) -> Vec<usize> {
    let mut picked = rand::seq::index::sample(rng, len, n.min(len)).into_vec();
    picked.sort_unstable();
    picked
}

fn pick_some<T: Copy>(
    rng: &mut ChaCha8Rng,
    from: &[T],
    n: std::ops::RangeInclusive<usize>,
) -> Vec<T> {
    let n = rng.random_range(n);
    pick_indexes(rng, from.len(), n)
        .into_iter()
        .map(|i| from[i])
        .collect()
}

fn title_case(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A sentence of `min`–`max` words.
fn sentence(rng: &mut ChaCha8Rng, min: usize, max: usize) -> String {
    let n = rng.random_range(min..=max);
    let mut s = String::new();
    for i in 0..n {
        let w = pick(rng, WORDS);
        if i == 0 {
            s.push_str(&title_case(w));
        } else {
            s.push(' ');
            s.push_str(w);
        }
    }
    s.push('.');
    s
}

/// Sentences adding up to `min`–`max` words.
fn paragraph(rng: &mut ChaCha8Rng, min: usize, max: usize) -> String {
    let target = rng.random_range(min..=max);
    let mut s = String::new();
    let mut words = 0;
    while words < target {
        let n = rng.random_range(6..=18);
        if !s.is_empty() {
            s.push(' ');
        }
        let _ = write!(s, "{}", sentence(rng, n, n));
        words += n;
    }
    s
}

/// Characters of a certificate code.
const CODE_CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
const KINDS: &[&str] = &[
    "Academy",
    "Institute",
    "School",
    "College",
    "Learning",
    "University",
    "Training",
];
const DIFFICULTIES: &[&str] = &[
    "BEGINNER",
    "BEGINNER",
    "INTERMEDIATE",
    "INTERMEDIATE",
    "ADVANCED",
    "EXPERT",
];
const SECTION_TYPES: &[&str] = &[
    "TEXT",
    "TEXT",
    "TEXT",
    "VIDEO",
    "VIDEO",
    "QUIZ",
    "ASSIGNMENT",
    "CODE_EXERCISE",
];
const COLOURS: &[&str] = &[
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];
const FIRST_NAMES: &[&str] = &[
    "Ada", "Alan", "Amara", "Ana", "Ben", "Chen", "Dara", "Elif", "Emma", "Farah", "Grace", "Hugo",
    "Ines", "Ivan", "Jonas", "Kai", "Lea", "Liam", "Maya", "Mina", "Noah", "Omar", "Priya", "Rosa",
    "Sami", "Sofia", "Tariq", "Uma", "Yuki", "Zoe",
];
const LAST_NAMES: &[&str] = &[
    "Adeyemi", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito",
    "Jansen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi",
    "Silva", "Tanaka", "Usman", "Varga", "Weber", "Xu", "Yilmaz", "Zhang",
];
const WORDS: &[&str] = &[
    "algebra",
    "analysis",
    "applied",
    "architecture",
    "basics",
    "biology",
    "budget",
    "chemistry",
    "climate",
    "coaching",
    "communication",
    "compliance",
    "data",
    "design",
    "drawing",
    "economics",
    "energy",
    "english",
    "ethics",
    "finance",
    "first",
    "fundamentals",
    "geometry",
    "grammar",
    "history",
    "hygiene",
    "leadership",
    "learning",
    "literature",
    "logic",
    "management",
    "marketing",
    "methods",
    "music",
    "negotiation",
    "nursing",
    "onboarding",
    "physics",
    "planning",
    "practice",
    "programming",
    "project",
    "public",
    "quality",
    "reading",
    "research",
    "safety",
    "sales",
    "science",
    "security",
    "service",
    "skills",
    "software",
    "speaking",
    "statistics",
    "strategy",
    "systems",
    "teamwork",
    "theory",
    "tools",
    "writing",
    "with",
    "and",
    "the",
    "for",
    "your",
    "how",
    "to",
    "of",
    "in",
    "a",
    "from",
    "every",
    "day",
    "work",
    "team",
    "new",
    "advanced",
    "modern",
    "simple",
    "clear",
    "better",
    "steps",
    "guide",
    "notes",
    "ideas",
    "cases",
    "examples",
    "questions",
    "review",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_skewed_and_add_up() {
        let sizes = tenant_sizes(&Scale::BENCH);
        assert_eq!(sizes.len(), 1_000);
        let users: u64 = sizes.iter().map(|s| s.users).sum();
        assert!((95_000..=110_000).contains(&users), "{users}");
        assert!(
            sizes[0].users > 50 * sizes[999].users,
            "a few large, a long tail"
        );
        assert!(sizes.iter().all(|s| s.users >= 2 && s.courses >= 1));
    }

    #[test]
    fn copy_rows_escape_what_text_format_reads_specially() {
        let mut b = String::new();
        row(&mut b, &["a\tb", "c\\d", "\\N", "e\nf"]);
        assert_eq!(b, "a\\tb\tc\\\\d\t\\N\te\\nf\n");
    }
}
