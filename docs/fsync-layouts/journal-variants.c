// Where a journaled group commit's time goes (docs/profile.md, "The embedded bus's group commit"):
// 300 MiB in groups of 8 writes of 31,468 B (bench bus's chunks), one fdatasync per group.
//   one     one appended file (what `bench bus` compares against)
//   shared  one appended file fallocated ahead (a log shared by the partitions, written once)
//   jrnl    three segment files in the page cache + a 64 MiB journal overwritten in place and
//           fdatasynced; a thread fsyncs the segments at half a journal (the bus since issue 14)
//   jonly   the journal alone (the bound: each byte written once, in place)
//   jnofa   jrnl without fallocate on the segments
//   jbig    jrnl with a 256 MiB journal (fewer, larger checkpoints)
//   jsfr    jrnl + sync_file_range(WRITE) of the segments' new bytes after every group (trickled)
//   jidle   jrnl with the checkpointing thread in the idle I/O class
// gcc -O2 -o variants journal-variants.c -lpthread && ./variants MODE DIR
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <pthread.h>
#include <time.h>
#include <sys/syscall.h>
static int idle_ckpt=0;
#define CH 31468
#define TOTAL (300L<<20)
static long JSIZE=(64L<<20);
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
static int fds[3], jfd;
static pthread_mutex_t mu=PTHREAD_MUTEX_INITIALIZER; static pthread_cond_t cv=PTHREAD_COND_INITIALIZER;
static long want_ckpt=0, done_ckpt=0; static int quit=0;
static long sfr_to[3], sfr_done[3]; static pthread_cond_t scv=PTHREAD_COND_INITIALIZER;
static void* ckpt(void*p){ if(idle_ckpt){ if(syscall(SYS_ioprio_set,1,0,(3<<13)|0)) perror("ioprio"); } for(;;){ pthread_mutex_lock(&mu); while(want_ckpt==done_ckpt && !quit) pthread_cond_wait(&cv,&mu); if(quit&&want_ckpt==done_ckpt){pthread_mutex_unlock(&mu);return 0;} long w=want_ckpt; pthread_mutex_unlock(&mu);
  for(int i=0;i<3;i++) fdatasync(fds[i]);
  pthread_mutex_lock(&mu); done_ckpt=w; pthread_cond_broadcast(&cv); pthread_mutex_unlock(&mu);} }
static void* pusher(void*p){ for(;;){ pthread_mutex_lock(&mu); int any=0; long from[3],to[3]; for(int i=0;i<3;i++){from[i]=sfr_done[i];to[i]=sfr_to[i]; if(to[i]>from[i]) any=1;}
  if(!any){ if(quit){pthread_mutex_unlock(&mu);return 0;} pthread_cond_wait(&scv,&mu); pthread_mutex_unlock(&mu); continue;}
  pthread_mutex_unlock(&mu);
  for(int i=0;i<3;i++) if(to[i]>from[i]) sync_file_range(fds[i],from[i],to[i]-from[i],SYNC_FILE_RANGE_WRITE);
  pthread_mutex_lock(&mu); for(int i=0;i<3;i++) sfr_done[i]=to[i]; pthread_mutex_unlock(&mu);} }
int main(int argc,char**argv){
  const char*mode=argv[1]; const char*dir=argv[2];
  char buf[CH*8]; memset(buf,'x',sizeof buf);
  char path[256];
  if(!strcmp(mode,"one")||!strcmp(mode,"shared")){
    snprintf(path,256,"%s/one",dir); unlink(path); int fd=open(path,O_RDWR|O_CREAT|O_TRUNC,0644); long off=0,pre=0; int groups=0;
    double t0=now();
    while(off<TOTAL){ for(int k=0;k<8;k++){ if(!strcmp(mode,"shared") && off+CH>pre){fallocate(fd,1,pre,8<<20);pre+=8<<20;} pwrite(fd,buf,CH,off); off+=CH;} fdatasync(fd); groups++; }
    double t=now()-t0; printf("%s %.3f s groups %d %.3f ms/group\n",mode,t,groups,t*1000/groups); unlink(path); return 0;
  }
  if(!strcmp(mode,"jbig")) JSIZE=256L<<20;
  if(!strcmp(mode,"jidle")) idle_ckpt=1;
  int segs=strcmp(mode,"jonly")!=0, sfr=!strcmp(mode,"jsfr"), nofa=!strcmp(mode,"jnofa");
  long off[3]={0}, pre[3]={0};
  for(int i=0;i<3;i++){snprintf(path,256,"%s/s%d",dir,i); unlink(path); fds[i]=open(path,O_RDWR|O_CREAT,0644);}
  snprintf(path,256,"%s/journal",dir); unlink(path); jfd=open(path,O_RDWR|O_CREAT,0644);
  for(long o=0;o<JSIZE;o+=sizeof buf) pwrite(jfd,buf,sizeof buf,o); fsync(jfd);
  pthread_t th, th2; pthread_create(&th,0,ckpt,0); if(sfr) pthread_create(&th2,0,pusher,0);
  long written=0, jpos=0, jtotal=0; int groups=0;
  double t0=now();
  while(written<TOTAL){
    if(segs) for(int k=0;k<8;k++){int f=k%3; if(!nofa && off[f]+CH>pre[f]){fallocate(fds[f],1,pre[f],8<<20);pre[f]+=8<<20;} pwrite(fds[f],buf,CH,off[f]);off[f]+=CH;}
    written+=8*CH;
    long n=8*CH; if(jpos+n>JSIZE) jpos=0;
    pwrite(jfd,buf,n,jpos); jpos+=n; jtotal+=n;
    fdatasync(jfd);
    groups++;
    if(segs){ pthread_mutex_lock(&mu);
      if(sfr){ for(int i=0;i<3;i++) sfr_to[i]=off[i]; pthread_cond_signal(&scv);} 
      if(jtotal - want_ckpt >= JSIZE/2 && want_ckpt==done_ckpt){ want_ckpt=jtotal; pthread_cond_broadcast(&cv);} 
      while(jtotal - done_ckpt > JSIZE - n) pthread_cond_wait(&cv,&mu);
      pthread_mutex_unlock(&mu);}
  }
  double t=now()-t0;
  pthread_mutex_lock(&mu); quit=1; pthread_cond_broadcast(&cv); pthread_cond_broadcast(&scv); pthread_mutex_unlock(&mu); pthread_join(th,0); if(sfr) pthread_join(th2,0);
  printf("%s %.3f s groups %d %.3f ms/group\n",mode,t,groups,t*1000/groups);
  for(int i=0;i<3;i++){snprintf(path,256,"%s/s%d",dir,i); unlink(path);} snprintf(path,256,"%s/journal",dir); unlink(path);
  return 0;
}
